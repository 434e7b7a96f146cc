namespace EdgeInspect.Station.Fleet;

/// <summary>
/// "Fleet:Rollback": limits on the candidate while it is shadowed and on a newly promoted model while it is watched.
/// Over the last <see cref="WindowParts"/> parts: the error rate (model failures plus disagreements with the human,
/// over parts that had a verdict to compare) and the 95th percentile latency. A candidate that crosses them is
/// rejected; a promoted model that crosses them is rolled back to the previous slot (when <see cref="Auto"/>).
/// </summary>
public sealed class RollbackOptions
{
    public bool Auto { get; set; } = true;
    public int WindowParts { get; set; } = 100;
    public double MaxErrorRate { get; set; } = 0.25;
    public double MaxLatencyMs { get; set; } = 1000;

    /// <summary>Parts a promoted model is watched for before it counts as settled.</summary>
    public int WatchParts { get; set; } = 1000;

    public void Validate()
    {
        const string s = FleetAgentOptions.SectionName + ":Rollback";
        if (WindowParts is < 1 or > 100_000) throw new ArgumentException($"{s}:WindowParts: must be 1..100000");
        if (MaxErrorRate is < 0 or > 1) throw new ArgumentException($"{s}:MaxErrorRate: must be 0..1");
        if (MaxLatencyMs <= 0) throw new ArgumentException($"{s}:MaxLatencyMs: must be positive");
        if (WatchParts < WindowParts) throw new ArgumentException($"{s}:WatchParts: must be at least WindowParts");
    }
}
