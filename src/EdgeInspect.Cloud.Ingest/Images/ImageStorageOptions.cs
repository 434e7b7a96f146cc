using EdgeInspect.Fleet.Protocol.Images;

namespace EdgeInspect.Cloud.Ingest.Images;

/// <summary>The "Ingest:Images" section: where the ingest keeps part images and what it accepts. Validated at start.</summary>
public sealed class ImageStorageOptions
{
    /// <summary>The configuration section bound to these options.</summary>
    public const string SectionName = "Ingest:Images";

    /// <summary>
    /// The image root: images go to "&lt;root&gt;/&lt;device&gt;/&lt;yyyy-MM-dd&gt;/", uploads in progress to "&lt;root&gt;/.partial/".
    /// Instances of one share group must share it (a device's chunks may reach any of them).
    /// </summary>
    public string Root { get; set; } = "data/images";

    /// <summary>Largest image accepted.</summary>
    public long MaxImageBytes { get; set; } = new ImageLimits().MaxImageBytes;

    /// <summary>Largest chunk accepted (the devices' ImageUplink:ChunkBytes must not exceed it).</summary>
    public int MaxChunkBytes { get; set; } = new ImageLimits().MaxChunkBytes;

    /// <summary>Bytes of a malformed chunk kept in its dead letter.</summary>
    public int DeadLetterKeepBytes { get; set; } = 1024;

    /// <summary>The limits a chunk is checked against.</summary>
    public ImageLimits Limits => new() { MaxImageBytes = MaxImageBytes, MaxChunkBytes = MaxChunkBytes };

    /// <summary>Throws <see cref="InvalidOperationException"/> naming the first bad key.</summary>
    public void Validate()
    {
        static void Fail(string key, string problem) => throw new InvalidOperationException($"{SectionName}:{key}: {problem}");
        if (string.IsNullOrWhiteSpace(Root)) Fail(nameof(Root), "must name a folder");
        if (MaxImageBytes < 1024) Fail(nameof(MaxImageBytes), "must be >= 1024");
        if (MaxChunkBytes < new ImageLimits().MinChunkBytes || MaxChunkBytes > 1024 * 1024) Fail(nameof(MaxChunkBytes), "must be 1024..1048576");
        if (DeadLetterKeepBytes < 0) Fail(nameof(DeadLetterKeepBytes), "must be >= 0");
    }
}
