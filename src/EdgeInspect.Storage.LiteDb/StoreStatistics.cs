namespace EdgeInspect.Storage.LiteDb;

/// <summary>Counters and facts for <c>edgeinspect store stats</c> and the telemetry message.</summary>
/// <param name="Path">The data file.</param>
/// <param name="Records">Records stored.</param>
/// <param name="PendingUplink">Records not yet delivered by the uplink.</param>
/// <param name="StoredBytes">Bytes of the records themselves (JSON and document overhead).</param>
/// <param name="BudgetBytes">The budget on data file, log and spool (0 = none).</param>
/// <param name="LastSequence">The sequence high-water mark.</param>
/// <param name="Oldest">Capture time of the lowest sequence stored.</param>
/// <param name="Newest">Capture time of the highest sequence stored.</param>
/// <param name="Evictions">Evictions by reason since the database was created.</param>
/// <param name="EvictedUnsent">Evicted records that had not reached the uplink.</param>
/// <param name="AuditEvents">Audit events stored.</param>
/// <param name="TelemetrySnapshots">Telemetry snapshots stored.</param>
/// <param name="RecoveredCorruptFiles">Database files found corrupt and moved aside, ever (the "&lt;name&gt;.corrupt-*" files beside it).</param>
/// <param name="Epoch">The file's store epoch, carried by the records stored in it.</param>
public sealed record StoreStatistics(
    string Path,
    long Records,
    long PendingUplink,
    long StoredBytes,
    long BudgetBytes,
    long LastSequence,
    DateTimeOffset? Oldest,
    DateTimeOffset? Newest,
    IReadOnlyDictionary<string, long> Evictions,
    long EvictedUnsent,
    long AuditEvents,
    long TelemetrySnapshots,
    int RecoveredCorruptFiles,
    string Epoch)
{
    /// <summary>Bytes of the data file on disk.</summary>
    public long DataFileBytes { get; init; }

    /// <summary>Bytes of the write-ahead log on disk.</summary>
    public long LogFileBytes { get; init; }

    /// <summary>Bytes of the model spool (partly received packages), on the same budget.</summary>
    public long SpoolBytes { get; init; }

    /// <summary>What <see cref="BudgetBytes"/> bounds: data file, log and spool.</summary>
    public long DiskBytes => DataFileBytes + LogFileBytes + SpoolBytes;

    /// <summary>True while writes fail for lack of disk space.</summary>
    public bool DiskFull { get; init; }

    /// <summary>Writes refused or failed for lack of space since the store was opened.</summary>
    public long RefusedWrites { get; init; }

    /// <summary>Of <see cref="PendingUplink"/>, the records parked because the broker kept refusing them (not sent until removed).</summary>
    public long ParkedUplink { get; init; }
}
