namespace EdgeInspect.Storage.LiteDb;

/// <summary>
/// Measures the bytes the store holds on disk: its data file and log (from the open streams) and the sidecar folders,
/// the model spool and the part images (walked at most once per <see cref="SpoolInterval"/>: they change by whole
/// chunks and images, not per record).
/// <para>Not thread-safe: the store calls it under its one lock.</para>
/// </summary>
internal sealed class DiskUsage(string? spoolFolder, TimeProvider time, string? imageFolder = null)
{
    private long _spoolBytes;
    private DateTimeOffset _spoolMeasuredAt = DateTimeOffset.MinValue;

    /// <summary>How long a measured spool size is reused.</summary>
    public static readonly TimeSpan SpoolInterval = TimeSpan.FromSeconds(5);

    /// <summary>The store's bytes on disk now.</summary>
    public DiskBytes Measure(StoreFile file) => new(file.DataBytes, file.LogBytes, SpoolBytes());

    /// <summary>Bytes of every file under the spool and image folders (0 when there are none).</summary>
    public long SpoolBytes()
    {
        if (spoolFolder is null && imageFolder is null) return 0;
        var now = time.GetUtcNow();
        if (now - _spoolMeasuredAt < SpoolInterval) return _spoolBytes;
        _spoolMeasuredAt = now;
        _spoolBytes = (spoolFolder is null ? 0 : FolderBytes(spoolFolder)) + (imageFolder is null ? 0 : FolderBytes(imageFolder));
        return _spoolBytes;
    }

    /// <summary>Bytes of every file under <paramref name="folder"/>, files that vanish while walking skipped.</summary>
    public static long FolderBytes(string folder)
    {
        if (!Directory.Exists(folder)) return 0;
        long total = 0;
        var walk = new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true, AttributesToSkip = 0 };
        foreach (var f in new DirectoryInfo(folder).EnumerateFiles("*", walk))
        {
            try { total += f.Length; }
            catch (FileNotFoundException) { /* a chunk renamed or removed meanwhile */ }
        }
        return total;
    }
}
