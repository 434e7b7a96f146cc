using EdgeInspect.Core.Storage;

namespace EdgeInspect.Station.Capture;

/// <summary>
/// The device's kept part images: one sub-folder per store epoch, one JPEG per part (<see cref="PartImageName"/>).
/// The writer adds images and holds the folder under its byte limit (least valuable first); the uplink reads the
/// most valuable first and deletes each once the cloud has it. Thread-safe (one lock; both sides are slow paths).
/// </summary>
public sealed class PartImageFolder : IPartImageQueue
{
    private const string NoEpoch = "none";
    private readonly Lock _lock = new();
    private readonly long[] _evicted = new long[PartImageName.ReasonNames.Length];

    /// <summary>A folder at <paramref name="root"/> (created on the first write).</summary>
    public PartImageFolder(string root)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(root);
        Root = Path.GetFullPath(root);
    }

    /// <summary>The folder.</summary>
    public string Root { get; }

    /// <summary>Images evicted for room since start, by reason (<see cref="PartImageName.ReasonNames"/>).</summary>
    public IReadOnlyDictionary<string, long> Evicted
    {
        get { lock (_lock) return PartImageName.ReasonNames.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => _evicted[x.i]); }
    }

    /// <summary>
    /// Writes one image durably (a temporary file flushed to the disk, then renamed: a power cut leaves either the
    /// whole image or a temporary file that is never read) and returns its size.
    /// </summary>
    public long Write(string? epoch, string name, ReadOnlySpan<byte> jpeg)
    {
        var folder = Path.Combine(Root, EpochFolder(epoch));
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, name);
        var tmp = path + ".tmp";
        using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            f.Write(jpeg);
            f.Flush(flushToDisk: true);
        }
        lock (_lock) File.Move(tmp, path, overwrite: true);
        return jpeg.Length;
    }

    /// <summary>Every complete image now in the folder.</summary>
    public IReadOnlyList<PartImageFile> All()
    {
        var list = new List<PartImageFile>();
        if (!Directory.Exists(Root)) return list;
        lock (_lock)
        {
            foreach (var dir in new DirectoryInfo(Root).EnumerateDirectories())
            {
                foreach (var f in dir.EnumerateFiles("*.jpg"))
                {
                    if (!PartImageName.TryParse(f.Name, out var seq, out var reason, out var at)) continue;
                    long size;
                    try { size = f.Length; }
                    catch (FileNotFoundException) { continue; }
                    list.Add(new PartImageFile(f.FullName, dir.Name == NoEpoch ? "" : dir.Name, seq, PartImageName.ReasonNames[(int)reason], at, size));
                }
            }
        }
        return list;
    }

    /// <summary>Bytes of every file under the folder (temporary files too: they are on the disk).</summary>
    public long Bytes()
    {
        if (!Directory.Exists(Root)) return 0;
        long total = 0;
        foreach (var f in new DirectoryInfo(Root).EnumerateFiles("*", new EnumerationOptions { RecurseSubdirectories = true }))
        {
            try { total += f.Length; }
            catch (FileNotFoundException) { /* deleted while walking */ }
        }
        return total;
    }

    /// <inheritdoc/>
    public IReadOnlyList<PartImageFile> Pending(int max) =>
        [.. All().OrderByDescending(i => Rank(i.Reason)).ThenBy(i => i.CapturedAt).ThenBy(i => i.Sequence).Take(max)];

    /// <inheritdoc/>
    public bool Delete(PartImageFile image)
    {
        ArgumentNullException.ThrowIfNull(image);
        lock (_lock)
        {
            if (!File.Exists(image.Path)) return false;
            File.Delete(image.Path);
            return true;
        }
    }

    /// <summary>
    /// Past <paramref name="maxBytes"/>, deletes images (samples first, disagreements last, oldest first within a
    /// reason) down to nine tenths of it, so the next image does not evict again. Returns the images deleted.
    /// </summary>
    public int Enforce(long maxBytes)
    {
        var total = Bytes();
        if (total <= maxBytes) return 0;
        var target = maxBytes * 9 / 10;
        var deleted = 0;
        foreach (var image in All().OrderBy(i => Rank(i.Reason)).ThenBy(i => i.CapturedAt).ThenBy(i => i.Sequence))
        {
            if (total <= target) break;
            if (!Delete(image)) continue;
            total -= image.Bytes;
            deleted++;
            lock (_lock) _evicted[Rank(image.Reason)]++;
        }
        return deleted;
    }

    private static int Rank(string reason) => Math.Max(0, Array.IndexOf(PartImageName.ReasonNames, reason));

    private static string EpochFolder(string? epoch) =>
        string.IsNullOrEmpty(epoch) || epoch.IndexOfAny(['/', '\\', '\0']) >= 0 || epoch.StartsWith('.') ? NoEpoch : epoch;
}
