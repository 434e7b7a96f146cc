using System.Diagnostics;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Inspection;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Station.Fleet.Shadow;

/// <summary>
/// A candidate on trial: its inspector, the three-way shadow statistics and the rolling window that rejects it when it
/// crosses the rollback limits. <see cref="Inspect"/> runs outside the agent's lock (one caller at a time);
/// <see cref="Add"/> and the statistics are under it.
/// </summary>
public sealed class CandidateTrial(IInspector inspector, RollbackOptions limits)
{
    /// <summary>The candidate model.</summary>
    public IInspector Inspector => inspector;

    /// <summary>Human, active model and candidate on the same parts.</summary>
    public CandidateShadow Shadow { get; } = new();

    /// <summary>The candidate's failures, disagreements and latency over the last parts.</summary>
    public ModelWatch Watch { get; } = new(limits);

    /// <summary>Runs the candidate on a stored part's frame: its verdict (null when it failed) and its time.</summary>
    public (Verdict? Verdict, double Ms) Inspect(Frame frame, string? partId, ILogger log)
    {
        Verdict? verdict = null;
        var start = Stopwatch.GetTimestamp();
        try { verdict = inspector.Inspect(frame).Verdict; }
        catch (Exception e) when (e is not OutOfMemoryException) { log.LogDebug("candidate failed on part {Part}: {Error}", partId, e.Message); }
        return (verdict, Stopwatch.GetElapsedTime(start).TotalMilliseconds);
    }

    /// <summary>Adds one part's outcome; the limit crossed when the candidate must be rejected, else null.</summary>
    public string? Add(InspectionRecord record, Verdict? verdict, double ms)
    {
        Shadow.Add(record.HumanVerdict, record.ModelVerdict, verdict, ms);
        Watch.Add(verdict is null, record.HumanVerdict is { } h && verdict is { } v ? h == v : null, ms);
        return Watch.Breach();
    }
}
