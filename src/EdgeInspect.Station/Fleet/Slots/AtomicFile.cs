namespace EdgeInspect.Station.Fleet.Slots;

/// <summary>Small state files that must never be seen half-written: temp file, fsync, rename over the old one.</summary>
public static class AtomicFile
{
    /// <summary>
    /// Writes <paramref name="data"/> to <paramref name="path"/> so a reader (or a restart after a power cut) sees either
    /// the old content or the new one: rename(2) replaces the file atomically, and the data is on disk before it.
    /// </summary>
    public static void Write(string path, ReadOnlySpan<byte> data)
    {
        var tmp = path + ".tmp";
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            fs.Write(data);
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }
}
