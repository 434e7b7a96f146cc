using System.Globalization;
using System.Security.Cryptography;
using EdgeInspect.Fleet.Protocol.Images;

namespace EdgeInspect.Cloud.Ingest.Images;

/// <summary>
/// The ingest's image folder. An upload in progress is one file, "&lt;root&gt;/.partial/&lt;device&gt;/&lt;id&gt;.part", grown
/// chunk by chunk in order; its length is the upload's state (chunks held = length / chunk size), so nothing else has
/// to be kept in step with it and a restarted ingest resumes from what is on its disk. A chunk is flushed to the disk
/// before it is acknowledged. A complete, verified upload is moved to "&lt;root&gt;/&lt;device&gt;/&lt;yyyy-MM-dd&gt;/" (UTC day of
/// capture).
/// </summary>
public sealed class PartImageFiles(string root)
{
    /// <summary>The image root.</summary>
    public string Root { get; } = Path.GetFullPath(root);

    /// <summary>Where an upload in progress is kept.</summary>
    public string PartialPath(string deviceId, ImageChunk chunk) => Path.Combine(Root, ".partial", deviceId, chunk.Id + ".part");

    /// <summary>The stored image's path relative to <see cref="Root"/>.</summary>
    public static string RelativePath(string deviceId, ImageChunk chunk) =>
        Path.Combine(deviceId, chunk.CapturedAt.UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
            string.Create(CultureInfo.InvariantCulture, $"{chunk.Epoch}-{chunk.Sequence}-{chunk.Reason}.jpg"));

    /// <summary>Chunks of the image already held in order (its partial file's length); <see cref="ImageChunk.Count"/> when complete.</summary>
    public int Held(string deviceId, ImageChunk chunk)
    {
        var info = new FileInfo(PartialPath(deviceId, chunk));
        if (!info.Exists) return 0;
        return info.Length >= chunk.Size ? chunk.Count : (int)(info.Length / chunk.ChunkBytes);
    }

    /// <summary>
    /// Appends <paramref name="chunk"/> when it is the next one needed (anything after a torn earlier write is cut off
    /// first) and returns the chunks now held. A chunk held already or ahead of the next is not written: the answer
    /// tells the device where to go on.
    /// </summary>
    public int Append(string deviceId, ImageChunk chunk)
    {
        var held = Held(deviceId, chunk);
        if (chunk.Index != held) return held;
        var path = PartialPath(deviceId, chunk);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using (var f = new FileStream(path, FileMode.OpenOrCreate, FileAccess.Write, FileShare.None))
        {
            var offset = (long)chunk.Index * chunk.ChunkBytes;
            f.SetLength(offset);
            f.Position = offset;
            f.Write(chunk.Data.Span);
            f.Flush(flushToDisk: true);
        }
        return held + 1;
    }

    /// <summary>
    /// Checks a complete upload against its size and SHA-256 and moves it to its day folder: the relative path, or null
    /// with <paramref name="problem"/> when it does not match (the partial file is deleted: the device sends it again).
    /// </summary>
    public string? Complete(string deviceId, ImageChunk chunk, out string? problem)
    {
        var partial = PartialPath(deviceId, chunk);
        byte[] hash;
        long length;
        using (var f = File.OpenRead(partial))
        {
            length = f.Length;
            hash = SHA256.HashData(f);
        }
        var sha = Convert.ToHexStringLower(hash);
        if (length != chunk.Size || sha != chunk.Sha256)
        {
            File.Delete(partial);
            problem = $"assembled image is {length} bytes with sha256 {sha}, the chunks announced {chunk.Size} bytes with {chunk.Sha256}";
            return null;
        }
        var relative = RelativePath(deviceId, chunk);
        var final = Path.Combine(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(final)!);
        File.Move(partial, final, overwrite: true);
        problem = null;
        return relative;
    }
}
