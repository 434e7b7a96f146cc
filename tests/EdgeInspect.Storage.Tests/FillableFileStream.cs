namespace EdgeInspect.Storage.Tests;

/// <summary>A disk that the test fills and frees at will: shared by every <see cref="FillableFileStream"/> on it.</summary>
internal sealed class FillableDisk
{
    public volatile bool Full;

    /// What .NET on Linux raises for ENOSPC (errno 28 in HResult), so the store's disk-full check sees it as such. It comes
    /// 50 ms late, as from a busy disk: long enough for the thread that started LiteDB's log writer to have recorded
    /// the writer's task, which is what turns LiteDB 5.0.20's error handling on that writer into a wait for itself.
    public static IOException NoSpace(string path)
    {
        Thread.Sleep(50);
        return new IOException($"No space left on device : '{path}'") { HResult = 28 };
    }
}

/// <summary>A real file whose writes and flushes fail with ENOSPC while its <see cref="FillableDisk"/> is full.</summary>
internal sealed class FillableFileStream(string path, FillableDisk disk) : FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 1, FileOptions.RandomAccess)
{
    private bool Full => disk.Full;

    public override void Write(byte[] buffer, int offset, int count)
    {
        if (Full) throw FillableDisk.NoSpace(Name);
        base.Write(buffer, offset, count);
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (Full) throw FillableDisk.NoSpace(Name);
        base.Write(buffer);
    }

    public override void WriteByte(byte value)
    {
        if (Full) throw FillableDisk.NoSpace(Name);
        base.WriteByte(value);
    }

    public override void SetLength(long value)
    {
        if (Full && value > Length) throw FillableDisk.NoSpace(Name);
        base.SetLength(value);
    }

    public override void Flush(bool flushToDisk)
    {
        if (Full) throw FillableDisk.NoSpace(Name);
        base.Flush(flushToDisk);
    }

    public override void Flush() => Flush(flushToDisk: true);
}
