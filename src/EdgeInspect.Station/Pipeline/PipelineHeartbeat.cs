namespace EdgeInspect.Station.Pipeline;

/// <summary>
/// Whether the pipeline is stuck: each stage marks when it starts work it should finish (a decision, a commit, a
/// free-running camera's next frame) and when it is done. Waiting for work (a part-present trigger, an empty channel)
/// is not busy, so a line that stands still is healthy; a stage busy past a limit is hung, and the systemd watchdog is
/// then withheld so the service is restarted.
/// </summary>
public sealed class PipelineHeartbeat(TimeProvider time)
{
    private readonly long[] _busySince = new long[3];

    /// <summary>Marks <paramref name="stage"/> as working from now.</summary>
    public void Busy(PipelineStage stage) => Volatile.Write(ref _busySince[(int)stage], time.GetTimestamp());

    /// <summary>Marks <paramref name="stage"/> as waiting for work.</summary>
    public void Idle(PipelineStage stage) => Volatile.Write(ref _busySince[(int)stage], 0);

    /// <summary>The stage busy the longest and for how long; null when every stage is waiting.</summary>
    public (PipelineStage Stage, TimeSpan For)? LongestBusy()
    {
        (PipelineStage, TimeSpan)? longest = null;
        for (var i = 0; i < _busySince.Length; i++)
        {
            var since = Volatile.Read(ref _busySince[i]);
            if (since == 0) continue;
            var elapsed = time.GetElapsedTime(since);
            if (longest is null || elapsed > longest.Value.Item2) longest = ((PipelineStage)i, elapsed);
        }
        return longest;
    }

    /// <summary>True unless a stage has been busy for <paramref name="limit"/> or longer.</summary>
    public bool IsHealthy(TimeSpan limit) => LongestBusy() is not { } b || b.For < limit;
}
