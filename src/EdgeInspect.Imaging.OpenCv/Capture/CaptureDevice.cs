using EdgeInspect.Core.Imaging;
using OpenCvSharp;

namespace EdgeInspect.Imaging.OpenCv.Capture;

/// <summary>Where a camera's frames come from, as the device config names it.</summary>
public enum CaptureKind
{
    /// <summary>A V4L2 device: "0" or "/dev/video0".</summary>
    V4l2,
    /// <summary>A GStreamer pipeline string ending in appsink (a Jetson CSI camera through nvarguscamerasrc).</summary>
    GStreamer,
    /// <summary>An RTSP URL (an IP camera), read through FFmpeg.</summary>
    Rtsp,
    /// <summary>A video file; it ends, and <see cref="VideoCaptureSource"/> reports the end instead of reopening.</summary>
    File,
}

/// <summary>
/// The one call surface <see cref="VideoCaptureSource"/> needs from a camera. Why an interface: a camera that
/// disappears cannot be unplugged in CI, so the reopen-with-backoff logic is tested against a scripted device,
/// and the real one (<see cref="OpenCvCaptureDevice"/>) is tested on a video file.
/// </summary>
public interface ICaptureDevice : IDisposable
{
    string Name { get; }
    /// <summary>Opens (or reopens) the device; false when it is not there.</summary>
    bool TryOpen();
    /// <summary>Reads the next frame into <paramref name="target"/>; false when the device stopped delivering.</summary>
    bool TryRead(ImageBuffer target);
    void Close();
}

/// <summary>OpenCV's VideoCapture behind <see cref="ICaptureDevice"/>, with the backend chosen by kind.</summary>
public sealed class OpenCvCaptureDevice(CaptureKind kind, string uri) : ICaptureDevice
{
    private VideoCapture? _capture;
    private readonly Mat _mat = new();

    public string Name => $"{kind.ToString().ToLowerInvariant()}:{uri}";

    public bool TryOpen()
    {
        Close();
        _capture = kind switch
        {
            CaptureKind.V4l2 => int.TryParse(uri, out int index)
                ? new VideoCapture(index, VideoCaptureAPIs.V4L2)
                : new VideoCapture(uri, VideoCaptureAPIs.V4L2),
            CaptureKind.GStreamer => new VideoCapture(uri, VideoCaptureAPIs.GSTREAMER),
            CaptureKind.Rtsp => new VideoCapture(uri, VideoCaptureAPIs.FFMPEG),
            _ => new VideoCapture(uri, VideoCaptureAPIs.ANY),
        };
        return _capture.IsOpened();
    }

    public bool TryRead(ImageBuffer target)
    {
        if (_capture is null || !_capture.Read(_mat) || _mat.Empty()) return false;
        if (_mat.Type() == MatType.CV_8UC3) ImageFiles.CopyFrom(_mat, target);
        else
        {
            // Grey or BGRA cameras: convert once into BGR, the frame path's one pixel format.
            using var bgr = new Mat();
            Cv2.CvtColor(_mat, bgr, _mat.Channels() == 1 ? ColorConversionCodes.GRAY2BGR : ColorConversionCodes.BGRA2BGR);
            ImageFiles.CopyFrom(bgr, target);
        }
        return true;
    }

    public void Close()
    {
        _capture?.Release();
        _capture?.Dispose();
        _capture = null;
    }

    public void Dispose()
    {
        Close();
        _mat.Dispose();
    }
}
