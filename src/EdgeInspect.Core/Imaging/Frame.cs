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

    public void Dispose() => Image.Dispose();
}
