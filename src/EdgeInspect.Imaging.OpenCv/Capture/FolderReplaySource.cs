using EdgeInspect.Core.Imaging;

namespace EdgeInspect.Imaging.OpenCv.Capture;

/// <summary>
/// Replays the images of a folder (sorted by name) as parts, one trigger per image: a recorded shift run again
/// through the station, or the fixed frame set of `bench pipeline`. Each frame carries the file name as part id.
/// </summary>
public sealed class FolderReplaySource : IFrameSource
{
    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"];
    private readonly string[] _files;
    private readonly TimeSpan _interval;
    private readonly TimeProvider _time;
    private readonly long _limit;
    private readonly ImageBuffer[]? _decoded;
    private long _next;

    /// <param name="count">Frames to deliver; past the number of files it loops; null = each file once.</param>
    /// <param name="preload">
    /// Decode every image once up front and hand out copies: a camera delivers raw frames (a copy), not compressed
    /// files, so a benchmark of the station should not pay a PNG decode per frame that no camera costs.
    /// </param>
    public FolderReplaySource(string folder, TimeSpan interval, long? count = null, TimeProvider? time = null, bool preload = false)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: no such folder to replay");
        _files = Directory.EnumerateFiles(folder)
            .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal).ToArray();
        if (_files.Length == 0) throw new IOException($"{folder}: no images ({string.Join(", ", Extensions)}) to replay");
        _interval = interval;
        _time = time ?? TimeProvider.System;
        _limit = count ?? _files.Length;
        Name = $"folder:{folder}";
        if (preload)
        {
            _decoded = new ImageBuffer[_files.Length];
            for (int i = 0; i < _files.Length; i++)
            {
                _decoded[i] = new ImageBuffer(1, 1);
                ImageFiles.Read(_files[i], _decoded[i]);
            }
        }
    }

    public string Name { get; }
    public bool Triggered => true;
    public IReadOnlyList<string> Files => _files;

    public async ValueTask<Frame?> ReadAsync(CancellationToken cancellationToken)
    {
        if (_next >= _limit) return null;
        if (_interval > TimeSpan.Zero) await Task.Delay(_interval, _time, cancellationToken);
        long index = _next++;
        string file = _files[index % _files.Length];
        ImageBuffer image;
        if (_decoded is not null)
        {
            var cached = _decoded[index % _files.Length];
            image = new ImageBuffer(cached.Width, cached.Height);
            cached.Pixels.CopyTo(image.Pixels);
        }
        else
        {
            image = new ImageBuffer(1, 1);
            try { ImageFiles.Read(file, image); }
            catch { image.Dispose(); throw; }
        }
        return new Frame(image, index, _time.GetUtcNow(), Path.GetFileName(file));
    }

    public void Dispose()
    {
        if (_decoded is null) return;
        foreach (var d in _decoded) d.Dispose();
    }
}
