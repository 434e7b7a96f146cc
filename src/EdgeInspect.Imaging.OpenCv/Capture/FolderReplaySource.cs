using EdgeInspect.Core.Evaluation;
using EdgeInspect.Core.Imaging;

namespace EdgeInspect.Imaging.OpenCv.Capture;

/// <summary>
/// Replays the images of a folder (sorted by name) as parts, one trigger per image: a recorded shift run again
/// through the station, or the fixed frame set of `bench pipeline`. Each frame carries the file name as part id.
/// A file that does not decode is still a part: its frame carries <see cref="Frame.Fault"/> and the station records it
/// fail-safe, then goes on with the next file. With labels, each frame carries its file's <see cref="PartLabel"/> as
/// <see cref="Frame.GroundTruth"/>, so a labelled inspector can answer for recorded parts (shadow mode on a replay).
/// </summary>
public sealed class FolderReplaySource : IFrameSource
{
    private static readonly string[] Extensions = [".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"];
    private readonly string[] _files;
    private readonly TimeSpan _interval;
    private readonly TimeProvider _time;
    private readonly long _limit;
    private readonly ImageBuffer?[]? _decoded;
    private readonly string?[]? _decodeFaults;
    private readonly IReadOnlyDictionary<string, PartLabel>? _labels;
    private long _next;

    /// <param name="count">Frames to deliver; past the number of files it loops; null = each file once.</param>
    /// <param name="preload">
    /// Decode every image once up front and hand out copies: a camera delivers raw frames (a copy), not compressed
    /// files, so a benchmark of the station should not pay a PNG decode per frame that no camera costs.
    /// </param>
    /// <param name="labels">Each file's label by file name (<see cref="ReplayLabels"/>); null: frames carry none.</param>
    public FolderReplaySource(string folder, TimeSpan interval, long? count = null, TimeProvider? time = null, bool preload = false,
        IReadOnlyDictionary<string, PartLabel>? labels = null)
    {
        _labels = labels;
        _files = ListImages(folder);
        _interval = interval;
        _time = time ?? TimeProvider.System;
        _limit = count ?? _files.Length;
        Name = $"folder:{folder}";
        if (preload)
        {
            _decoded = new ImageBuffer?[_files.Length];
            _decodeFaults = new string?[_files.Length];
            for (int i = 0; i < _files.Length; i++)
            {
                var image = new ImageBuffer(1, 1);
                if (TryRead(_files[i], image) is { } fault)
                {
                    image.Dispose();
                    _decodeFaults[i] = fault;
                }
                else _decoded[i] = image;
            }
        }
    }

    /// <summary>The images a replay of <paramref name="folder"/> delivers, in order; throws when there are none.</summary>
    public static string[] ListImages(string folder)
    {
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"{folder}: no such folder to replay");
        var files = Directory.EnumerateFiles(folder)
            .Where(f => Extensions.Contains(Path.GetExtension(f).ToLowerInvariant()))
            .Order(StringComparer.Ordinal).ToArray();
        return files.Length > 0 ? files : throw new IOException($"{folder}: no images ({string.Join(", ", Extensions)}) to replay");
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
        var now = _time.GetUtcNow();
        if (_decoded is not null)
        {
            var cached = _decoded[index % _files.Length];
            if (cached is null) return Frame.Faulted(index, now, Path.GetFileName(file), _decodeFaults![index % _files.Length]!);
            var copy = new ImageBuffer(cached.Width, cached.Height);
            cached.Pixels.CopyTo(copy.Pixels);
            return new Frame(copy, index, now, Path.GetFileName(file)) { GroundTruth = LabelOf(file) };
        }
        var image = new ImageBuffer(1, 1);
        if (TryRead(file, image) is { } reason)
        {
            image.Dispose();
            return Frame.Faulted(index, now, Path.GetFileName(file), reason);
        }
        return new Frame(image, index, now, Path.GetFileName(file)) { GroundTruth = LabelOf(file) };
    }

    private PartLabel? LabelOf(string file) => _labels?.GetValueOrDefault(Path.GetFileName(file));

    /// <summary>Decodes <paramref name="file"/> into <paramref name="image"/>; the reason when it cannot (unreadable, vanished, not an image).</summary>
    private static string? TryRead(string file, ImageBuffer image)
    {
        try
        {
            ImageFiles.Read(file, image);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or OpenCvSharp.OpenCVException)
        {
            return "not a readable image: " + e.Message;
        }
    }

    public void Dispose()
    {
        if (_decoded is null) return;
        foreach (var d in _decoded) d?.Dispose();
    }
}
