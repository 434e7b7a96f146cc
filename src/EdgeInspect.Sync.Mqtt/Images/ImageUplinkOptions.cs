using EdgeInspect.Fleet.Protocol.Images;

namespace EdgeInspect.Sync.Mqtt.Images;

/// <summary>The "ImageUplink" section: how kept part images go to the cloud ingest. Validated at start.</summary>
public sealed class ImageUplinkOptions
{
    /// <summary>The configuration section bound to these options.</summary>
    public const string SectionName = "ImageUplink";

    /// <summary>Bytes per chunk: under the broker's and the ingest's payload limit (<see cref="ImageLimits.MaxChunkBytes"/>).</summary>
    public int ChunkBytes { get; set; } = 64 * 1024;

    /// <summary>How long a chunk waits for the ingest's answer before the image is tried again later.</summary>
    public double AckTimeoutSeconds { get; set; } = 10;

    /// <summary>How often the folder is looked at when there was nothing to send (or the cloud did not answer).</summary>
    public double PollSeconds { get; set; } = 2;

    /// <summary>Refusals of one image (a hash mismatch, a limit) before it is set aside until the next start.</summary>
    public int ParkAfterRefusals { get; set; } = 3;

    /// <summary>Throws <see cref="InvalidOperationException"/> naming the first invalid key ("ImageUplink:&lt;Key&gt;").</summary>
    public void Validate()
    {
        static void Fail(string key, string problem) => throw new InvalidOperationException($"{SectionName}:{key}: {problem}");
        var limits = new ImageLimits();
        if (ChunkBytes < limits.MinChunkBytes || ChunkBytes > limits.MaxChunkBytes)
        {
            Fail(nameof(ChunkBytes), $"{ChunkBytes} must be {limits.MinChunkBytes}..{limits.MaxChunkBytes}");
        }
        if (AckTimeoutSeconds is <= 0 or > 600) Fail(nameof(AckTimeoutSeconds), "must be in (0, 600]");
        if (PollSeconds is <= 0 or > 3600) Fail(nameof(PollSeconds), "must be in (0, 3600]");
        if (ParkAfterRefusals < 1) Fail(nameof(ParkAfterRefusals), "must be >= 1");
    }
}
