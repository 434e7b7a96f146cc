namespace EdgeInspect.Storage.LiteDb;

/// <summary>
/// A FileStream whose plain <see cref="Flush()"/> goes to the disk (fsync), not just to the OS page cache.
/// LiteDB 5 calls <c>Flush()</c> on its streams; a plain <see cref="FileStream.Flush()"/> only empties the managed buffer,
/// so a power cut after "commit" could still lose the page. Counting the flushes lets tests prove each append synced.
/// </summary>
public sealed class DurableFileStream : FileStream
{
    private long _diskFlushes;

    public DurableFileStream(string path, FileMode mode)
        // FileShare.ReadWrite: "edgeinspect store stats" in another process may copy the files while the service runs.
        : base(path, mode, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 8192, FileOptions.RandomAccess)
    {
    }

    /// <summary>How many times this stream forced its data to the disk.</summary>
    public long DiskFlushes => Interlocked.Read(ref _diskFlushes);

    public override void Flush() => Flush(flushToDisk: true);

    public override void Flush(bool flushToDisk)
    {
        base.Flush(flushToDisk: true);
        Interlocked.Increment(ref _diskFlushes);
    }

    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        Flush(flushToDisk: true);
        return Task.CompletedTask;
    }
}
