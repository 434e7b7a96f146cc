namespace EdgeInspect.Station.Fleet.Transfer;

/// <summary>
/// Device config section <c>Fleet:Transfer</c>: what a package transfer may cost the device. Bound with the rest of
/// <c>Fleet</c> and validated at start, naming the key.
/// </summary>
public sealed class TransferOptions
{
    /// <summary>Smallest chunk an offer may use (the last chunk excepted); a chunk-size-1 offer is refused at once.</summary>
    public int MinChunkBytes { get; set; } = 16 * 1024;

    /// <summary>Most chunks per transfer; bounds the per-transfer state and the "missing" list in an offer's reply.</summary>
    public int MaxChunkCount { get; set; } = 16_384;

    /// <summary>Transfers in flight at once (offered, not yet installed, refused or abandoned); a further offer is refused as <c>transfer-busy</c>.</summary>
    public int MaxConcurrentTransfers { get; set; } = 1;

    /// <summary>
    /// Free disk kept for the record store: an offer is refused (<c>no-space</c>) unless twice its size (chunks, then the
    /// assembled archive beside them) still leaves this much free on the spool's file system.
    /// </summary>
    public long ReserveBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>A transfer with no chunk for this long is abandoned: its spool folder is deleted (checked at start and periodically).</summary>
    public TimeSpan AbandonAfter { get; set; } = TimeSpan.FromMinutes(30);

    /// <summary>Messages waiting for the package worker; when full, further ones are refused and counted (MQTTnet's loop never waits).</summary>
    public int QueueCapacity { get; set; } = 64;

    /// <summary>Most entries (files and folders) a package archive may hold.</summary>
    public int MaxArchiveEntries { get; set; } = 1024;

    /// <summary>Throws naming the first bad key; <paramref name="maxChunkBytes"/> and <paramref name="maxPackageBytes"/> are the section's siblings.</summary>
    public void Validate(string section, int maxChunkBytes, long maxPackageBytes)
    {
        if (MinChunkBytes < 1 || MinChunkBytes > maxChunkBytes)
            throw new ArgumentException($"{section}:MinChunkBytes: must be 1..MaxChunkBytes ({maxChunkBytes})");
        if (MaxChunkCount is < 1 or > 1_000_000) throw new ArgumentException($"{section}:MaxChunkCount: must be 1..1000000");
        if ((maxPackageBytes + maxChunkBytes - 1) / maxChunkBytes > MaxChunkCount)
            throw new ArgumentException($"{section}:MaxChunkCount: {MaxChunkCount} chunks of MaxChunkBytes cannot carry MaxPackageBytes ({maxPackageBytes})");
        if (MaxConcurrentTransfers is < 1 or > 8) throw new ArgumentException($"{section}:MaxConcurrentTransfers: must be 1..8");
        if (ReserveBytes < 0) throw new ArgumentException($"{section}:ReserveBytes: must not be negative");
        if (AbandonAfter < TimeSpan.FromSeconds(1)) throw new ArgumentException($"{section}:AbandonAfter: must be at least 1 second");
        if (QueueCapacity is < 1 or > 10_000) throw new ArgumentException($"{section}:QueueCapacity: must be 1..10000");
        if (MaxArchiveEntries is < 2 or > 100_000) throw new ArgumentException($"{section}:MaxArchiveEntries: must be 2..100000");
    }
}
