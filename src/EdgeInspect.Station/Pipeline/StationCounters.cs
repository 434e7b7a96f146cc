namespace EdgeInspect.Station.Pipeline;

/// <summary>Live counters for progress, the final summary and fault reporting.</summary>
public sealed class StationCounters
{
    internal long Parts, AuditSampled, Paired, Agreements, Rejects, FailSafe, Dropped, ModelFaults, RejectFaults, ImageFaults, StoreFaults, StoreFailSafeParts, StoreDroppedParts, CaptureFaults;

    /// <summary>Parts whose record is stored.</summary>
    public long PartsInspected => Interlocked.Read(ref Parts);

    /// <summary>Parts in partial or full sent to the human by audit sampling.</summary>
    public long AuditSamples => Interlocked.Read(ref AuditSampled);

    /// <summary>Stored parts with both a human and a model verdict.</summary>
    public long PairedParts => Interlocked.Read(ref Paired);

    /// <summary>Paired parts where the two agreed.</summary>
    public long AgreedParts => Interlocked.Read(ref Agreements);

    /// <summary>Reject pulses fired.</summary>
    public long RejectsFired => Interlocked.Read(ref Rejects);

    /// <summary>Stored parts recorded as fail-safe NG.</summary>
    public long FailedSafe => Interlocked.Read(ref FailSafe);

    /// <summary>Free-running frames dropped because the station was behind.</summary>
    public long FramesDropped => Interlocked.Read(ref Dropped);

    /// <summary>Parts the model threw on (recorded fail-safe).</summary>
    public long ModelFailures => Interlocked.Read(ref ModelFaults);

    /// <summary>Reject outputs that failed to fire (recorded fail-safe).</summary>
    public long RejectFailures => Interlocked.Read(ref RejectFaults);

    /// <summary>Parts with no usable image: unreadable file, trigger with no frame in time (recorded fail-safe).</summary>
    public long ImageFailures => Interlocked.Read(ref ImageFaults);

    /// <summary>Parts the store refused to record (a failed group commit).</summary>
    public long StoreFailures => Interlocked.Read(ref StoreFaults);

    /// <summary>Refused parts whose held record was dropped (more than <see cref="StationEngine.MaxUnstoredRecords"/> waiting): never recorded.</summary>
    public long StoreDropped => Interlocked.Read(ref StoreDroppedParts);

    /// <summary>Parts decided fail-safe NG because the store was not writable when they were decided.</summary>
    public long StoreFailSafe => Interlocked.Read(ref StoreFailSafeParts);

    /// <summary>Reads the frame source failed on (the capture stage went on with the next).</summary>
    public long CaptureFailures => Interlocked.Read(ref CaptureFaults);

    /// <summary>Counts one dropped free-running frame.</summary>
    public void CountDrop() => Interlocked.Increment(ref Dropped);
}
