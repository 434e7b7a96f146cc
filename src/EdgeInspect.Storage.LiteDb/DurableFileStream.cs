namespace EdgeInspect.Storage.LiteDb;

/// <summary>
/// A FileStream whose plain <see cref="Flush()"/> goes to the disk (fsync), not just to the OS page cache.
/// LiteDB 5 calls <c>Flush()</c> on its streams; a plain <see cref="FileStream.Flush()"/> only empties the managed buffer,
/// so a power cut after "commit" could still lose the page. Counting the flushes lets tests prove each append synced.
/// <para>
/// With <c>syncOnFlush: false</c> (the store's write-ahead log) a flush only hands the bytes to the OS and the fsync
/// happens in <see cref="Sync"/>, which the store calls once per durable commit. Why: LiteDB's log writer flushes
/// whenever its queue runs dry, and when it keeps pace with a committing transaction that is after almost every page
/// (about a dozen fsyncs per record measured); one fsync after the whole commit is written covers the same bytes.
/// </para>
/// </summary>
public sealed class DurableFileStream : FileStream
{
    private readonly bool _syncOnFlush;
    private long _diskFlushes;

    /// <summary>Opens <paramref name="path"/> read/write, shared for read/write with other processes.</summary>
    /// <param name="path">The file.</param>
    /// <param name="mode">How to open it.</param>
    /// <param name="syncOnFlush">True: every <see cref="Flush()"/> is an fsync; false: only <see cref="Sync"/> is.</param>
    public DurableFileStream(string path, FileMode mode, bool syncOnFlush = true)
        // FileShare.ReadWrite: "edgeinspect store stats" in another process may copy the files while the service runs.
        : base(path, mode, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 8192, FileOptions.RandomAccess)
    {
        _syncOnFlush = syncOnFlush;
    }

    /// <summary>How many times this stream forced its data to the disk.</summary>
    public long DiskFlushes => Interlocked.Read(ref _diskFlushes);

    private bool _dirty;

    /// <summary>Same as <see cref="Flush(bool)"/> with <c>flushToDisk: true</c>.</summary>
    public override void Flush() => Flush(flushToDisk: true);

    /// <summary>Forces everything written so far to the disk (fsync), whatever the flush mode; no-op when nothing was written.</summary>
    public void Sync()
    {
        lock (this)
        {
            if (!_dirty)
            {
                base.Flush(flushToDisk: false);
                return;
            }
            _dirty = false;
            base.Flush(flushToDisk: true);
            Interlocked.Increment(ref _diskFlushes);
        }
    }

    /// <summary>
    /// Forces written data to the disk (with <c>syncOnFlush: false</c>: only to the OS, see <see cref="Sync"/>); a flush
    /// with nothing written since the last one costs no fsync.
    /// <para>
    /// Locked on the stream itself, the same monitor LiteDB's internal ConcurrentStream takes around each positioned
    /// read and write: LiteDB's log writer thread writes and flushes this stream while the store (on another thread)
    /// flushes it after a commit. Without the lock a flush could return while the writer's fsync of the same bytes is
    /// still running, and the buffered FileStream state is not safe to touch from two threads.
    /// </para>
    /// </summary>
    public override void Flush(bool flushToDisk)
    {
        if (_syncOnFlush)
        {
            Sync();
            return;
        }
        lock (this) base.Flush(flushToDisk: false);
    }

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count)
    {
        lock (this)
        {
            _dirty = true;
            base.Write(buffer, offset, count);
        }
    }

    /// <inheritdoc/>
    public override void Write(ReadOnlySpan<byte> buffer)
    {
        lock (this)
        {
            _dirty = true;
            base.Write(buffer);
        }
    }

    /// <inheritdoc/>
    public override void WriteByte(byte value)
    {
        lock (this)
        {
            _dirty = true;
            base.WriteByte(value);
        }
    }

    /// <inheritdoc/>
    public override void SetLength(long value)
    {
        lock (this)
        {
            _dirty = true;
            base.SetLength(value);
        }
    }

    /// <summary>Flushes synchronously, as <see cref="Flush()"/> does.</summary>
    public override Task FlushAsync(CancellationToken cancellationToken)
    {
        Flush(flushToDisk: true);
        return Task.CompletedTask;
    }
}
