namespace EdgeInspect.Storage.LiteDb;

/// <summary>The store's bytes on disk at one moment.</summary>
/// <param name="Data">The LiteDB data file.</param>
/// <param name="Log">Its write-ahead log.</param>
/// <param name="Spool">The sidecar folders: the model spool and the kept part images.</param>
internal readonly record struct DiskBytes(long Data, long Log, long Spool)
{
    /// <summary>All of it: what the budget bounds.</summary>
    public long Total => Data + Log + Spool;
}
