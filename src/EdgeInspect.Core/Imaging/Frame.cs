namespace EdgeInspect.Core.Imaging;

/// <summary>One captured frame: pooled pixels plus where and when it came from.</summary>
public sealed class Frame : IDisposable
{
    public Frame(ImageBuffer image, long sequence, DateTimeOffset capturedAt, string? partId = null)
    {
        Image = image;
        Sequence = sequence;
        CapturedAt = capturedAt;
        PartId = partId;
    }

    public ImageBuffer Image { get; }
    /// <summary>Per-source monotonic frame counter.</summary>
    public long Sequence { get; }
    public DateTimeOffset CapturedAt { get; }
    /// <summary>Set when a part-present trigger (or the virtual line) knows which part this is.</summary>
    public string? PartId { get; init; }
    /// <summary>Ground truth, only for simulated sources (virtual line); never used by decisions.</summary>
    public object? GroundTruth { get; init; }
    /// <summary>
    /// Set when the part has no usable image (an unreadable file, a trigger no frame arrived for in time): the station
    /// records the part as fail-safe NG with this reason instead of inspecting the placeholder pixels.
    /// </summary>
    public string? Fault { get; init; }

    /// <summary>A part with no usable image (1 x 1 placeholder pixels) and the reason; see <see cref="Fault"/>.</summary>
    public static Frame Faulted(long sequence, DateTimeOffset capturedAt, string? partId, string reason) =>
        new(new ImageBuffer(1, 1), sequence, capturedAt, partId) { Fault = reason };

    public void Dispose() => Image.Dispose();
}
