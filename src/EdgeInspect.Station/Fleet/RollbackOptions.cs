namespace EdgeInspect.Station.Fleet;

/// <summary>
/// "Fleet:Rollback": limits on the candidate while it is shadowed and on a newly promoted model while it is watched.
/// Over the last <see cref="WindowParts"/> parts: the failure rate (the model threw or gave no verdict) and the 95th
/// percentile latency; over the last <see cref="WindowParts"/> parts that had a human verdict (every part in shadow and
/// assist, the audit-sampled ones in partial and full): the disagreement rate, judged from <see cref="MinComparedParts"/>
/// such parts on. A candidate that crosses a limit is rejected; a promoted model that crosses one is rolled back to the
/// previous slot (when <see cref="Auto"/>).
/// </summary>
public sealed class RollbackOptions
{
    public bool Auto { get; set; } = true;
    public int WindowParts { get; set; } = 100;
    /// <summary>The most the failure rate, and the disagreement rate, may each reach.</summary>
    public double MaxErrorRate { get; set; } = 0.25;

    /// <summary>
    /// Parts with a human verdict needed before the disagreement rate is judged (at most <see cref="WindowParts"/> count).
    /// With audit sampling, a promoted model is judged on wrong verdicts only when <see cref="WatchParts"/> times the
    /// sample rate reaches this.
    /// </summary>
    public int MinComparedParts { get; set; } = 20;
    public double MaxLatencyMs { get; set; } = 1000;

    /// <summary>Parts a promoted model is watched for before it counts as settled.</summary>
    public int WatchParts { get; set; } = 1000;

    public void Validate()
    {
        const string s = FleetAgentOptions.SectionName + ":Rollback";
        if (WindowParts is < 1 or > 100_000) throw new ArgumentException($"{s}:WindowParts: must be 1..100000");
        if (MaxErrorRate is < 0 or > 1) throw new ArgumentException($"{s}:MaxErrorRate: must be 0..1");
        if (MinComparedParts < 1) throw new ArgumentException($"{s}:MinComparedParts: must be at least 1");
        if (MaxLatencyMs <= 0) throw new ArgumentException($"{s}:MaxLatencyMs: must be positive");
        if (WatchParts < WindowParts) throw new ArgumentException($"{s}:WatchParts: must be at least WindowParts");
    }
}
