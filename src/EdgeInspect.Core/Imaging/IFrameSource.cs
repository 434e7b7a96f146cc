namespace EdgeInspect.Core.Imaging;

/// <summary>
/// Where frames come from: OpenCV VideoCapture (V4L2, GStreamer, RTSP, file), an image-folder replay, or the
/// virtual line. Returns null when the source has ended (file, folder, finite run). The caller owns and
/// disposes each returned frame. A live source that loses its camera reopens it itself and keeps waiting.
/// </summary>
public interface IFrameSource : IDisposable
{
    string Name { get; }
    /// <summary>True when each frame is a part-present trigger (never dropped), false when free-running (droppable).</summary>
    bool Triggered { get; }
    ValueTask<Frame?> ReadAsync(CancellationToken cancellationToken);
}
