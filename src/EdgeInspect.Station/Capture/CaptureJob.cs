using EdgeInspect.Core.Imaging;

namespace EdgeInspect.Station.Capture;

/// <summary>One image waiting to be encoded: a pooled copy of the frame's pixels (the writer disposes it) and where it goes.</summary>
public sealed record CaptureJob(ImageBuffer Pixels, string? Epoch, string FileName) : IDisposable
{
    /// <inheritdoc/>
    public void Dispose() => Pixels.Dispose();
}
