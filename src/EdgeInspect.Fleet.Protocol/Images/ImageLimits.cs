namespace EdgeInspect.Fleet.Protocol.Images;

/// <summary>What the ingest accepts of a part image: its size and the chunk size (under the broker's packet limit).</summary>
public sealed class ImageLimits
{
    /// <summary>The reasons a device keeps an image for.</summary>
    public static readonly IReadOnlyList<string> Reasons = ["sample", "lowconfidence", "failsafe", "disagreement"];

    /// <summary>Largest image accepted (a 4K frame at quality 100 is about 5 MB).</summary>
    public long MaxImageBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>Largest chunk; stays under the ingest's and the broker's maximum payload.</summary>
    public int MaxChunkBytes { get; set; } = 128 * 1024;

    /// <summary>Smallest chunk (the last one excepted): tiny chunks would turn one image into thousands of messages and fsyncs.</summary>
    public int MinChunkBytes { get; set; } = 1024;
}
