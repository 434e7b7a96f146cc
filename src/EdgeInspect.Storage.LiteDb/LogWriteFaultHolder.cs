namespace EdgeInspect.Storage.LiteDb;

/// <summary>
/// The write-ahead log as LiteDB's background log writer sees it: a write or flush that fails (a full disk) is held
/// here instead of thrown to the writer, every later write is dropped, and the store learns of the failure from
/// <see cref="ThrowIfFaulted"/> on its own thread.
/// <para>
/// Why: LiteDB 5.0.20's writer (<c>DiskWriterQueue.ExecuteQueue</c>) hands an I/O error to <c>EngineState.Handle</c>,
/// which closes the engine from the writer's own thread; the close disposes the queue, and the queue's
/// <c>Dispose</c> waits for the writer's task. When the error comes before the writer's first <c>await</c> (the first
/// pages a freshly opened database writes, as on every retry while the disk stays full) that task is the running one:
/// the writer waits for itself for ever, never records the error nor signals its queue empty, and the commit that waits
/// for it (<see cref="LogWriterWait"/>) never returns. The station's record stage stopped that way on a full disk.
/// </para>
/// <para>
/// Dropping the writes after a failure keeps the log a prefix of what LiteDB meant to write: the transaction in flight
/// is never confirmed in it, so the next open replays only whole transactions. Reads after a failure throw the held
/// error: a log page that was dropped must never be read back (a checkpoint would copy it into the data file).
/// </para>
/// <para>Disposing it leaves the inner stream open: that belongs to <see cref="StoreFile"/>, which disposes it.</para>
/// </summary>
internal sealed class LogWriteFaultHolder(Stream inner) : Stream
{
    private volatile IOException? _fault;

    /// <summary>The write that failed, or null.</summary>
    public IOException? Fault => _fault;

    /// <summary>Throws the held failure (the caller abandons the database: see <see cref="StoreFile.Abandon"/>).</summary>
    public void ThrowIfFaulted()
    {
        if (_fault is { } fault) throw new IOException(fault.Message, fault) { HResult = fault.HResult };
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        if (_fault is not null) return;
        try { inner.Write(buffer, offset, count); }
        catch (IOException e) { _fault = e; }
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (_fault is not null) return;
        try { inner.Write(buffer); }
        catch (IOException e) { _fault = e; }
    }

    public override void WriteByte(byte value)
    {
        if (_fault is not null) return;
        try { inner.WriteByte(value); }
        catch (IOException e) { _fault = e; }
    }

    public override void Flush()
    {
        if (_fault is not null) return;
        try { inner.Flush(); }
        catch (IOException e) { _fault = e; }
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        ThrowIfFaulted();
        return inner.Read(buffer, offset, count);
    }

    public override int Read(Span<byte> buffer)
    {
        ThrowIfFaulted();
        return inner.Read(buffer);
    }

    public override void SetLength(long value)
    {
        ThrowIfFaulted();
        inner.SetLength(value);
    }

    public override long Seek(long offset, SeekOrigin origin) => inner.Seek(offset, origin);

    public override bool CanRead => inner.CanRead;
    public override bool CanSeek => inner.CanSeek;
    public override bool CanWrite => inner.CanWrite;
    public override long Length => inner.Length;

    public override long Position
    {
        get => inner.Position;
        set => inner.Position = value;
    }
}
