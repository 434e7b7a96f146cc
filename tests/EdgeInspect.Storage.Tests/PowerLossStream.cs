namespace EdgeInspect.Storage.Tests;

/// <summary>
/// A file that loses, at a simulated power cut, everything written after its last Flush(). A slow disk: a flush from
/// any thread but the one that created the stream (LiteDB's background log writer) takes 30 ms before it counts, so a
/// store that relied on the writer's own fsync would return from Append before its record reached this "disk".
/// </summary>
internal sealed class PowerLossStream : MemoryStream
{
    private readonly int _ownerThread = Environment.CurrentManagedThreadId;
    private byte[] _disk = [];

    public byte[] DiskImage()
    {
        lock (this) return (byte[])_disk.Clone();
    }

    public override void Flush()
    {
        if (Environment.CurrentManagedThreadId != _ownerThread) Thread.Sleep(30);
        lock (this)
        {
            _disk = ToArray();
        }
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        lock (this)
        {
            base.Write(buffer, offset, count);
        }
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        lock (this)
        {
            base.Write(buffer);
        }
    }

    public override void SetLength(long value)
    {
        lock (this) base.SetLength(value);
    }
}
