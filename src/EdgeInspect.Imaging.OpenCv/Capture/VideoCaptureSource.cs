using EdgeInspect.Core.Imaging;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeInspect.Imaging.OpenCv.Capture;

/// <summary>
/// A camera as a free-running frame source. When the camera disappears (unplugged, network camera rebooting,
/// driver hiccup) the source does not end and the service does not restart: it reports the outage once, then
/// tries to reopen with exponential backoff (<see cref="MinBackoff"/> doubling up to <see cref="MaxBackoff"/>),
/// and reports the recovery with the outage's length. A video file is the exception: its end is the end.
/// </summary>
public sealed class VideoCaptureSource : IFrameSource
{
    private readonly ICaptureDevice _device;
    private readonly bool _endsAtEof;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private bool _open;
    private bool _everOpened;
    private DateTimeOffset? _outageSince;
    private long _sequence;
    private int _width = 640, _height = 480;

    public VideoCaptureSource(ICaptureDevice device, bool endsAtEndOfStream, TimeProvider? time = null, ILogger? log = null)
    {
        _device = device;
        _endsAtEof = endsAtEndOfStream;
        _time = time ?? TimeProvider.System;
        _log = log ?? NullLogger.Instance;
    }

    public static VideoCaptureSource Create(CaptureKind kind, string uri, TimeProvider? time = null, ILogger? log = null) =>
        new(new OpenCvCaptureDevice(kind, uri), kind == CaptureKind.File, time, log);

    public string Name => _device.Name;
    public bool Triggered => false;
    public TimeSpan MinBackoff { get; init; } = TimeSpan.FromMilliseconds(250);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Outages seen so far (each disappearance counts once, however many reopen attempts it took).</summary>
    public int Outages { get; private set; }
    /// <summary>True while frames are flowing.</summary>
    public bool Connected => _open;
    /// <summary>Raised on each state change with a line a technician can read (also logged).</summary>
    public event Action<string>? StatusChanged;

    public async ValueTask<Frame?> ReadAsync(CancellationToken cancellationToken)
    {
        var backoff = MinBackoff;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!_open)
            {
                _open = _device.TryOpen();
                if (_open) { _everOpened = true; Recovered(); }
                else
                {
                    if (_endsAtEof && !_everOpened) throw new IOException($"{_device.Name}: cannot open the video file");
                    Lost("cannot open");
                    await Task.Delay(backoff, _time, cancellationToken);
                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
                    continue;
                }
            }
            var image = new ImageBuffer(_width, _height);
            if (_device.TryRead(image))
            {
                (_width, _height) = (image.Width, image.Height); // the next buffer is rented at the camera's size
                return new Frame(image, _sequence++, _time.GetUtcNow());
            }
            image.Dispose();
            _device.Close();
            _open = false;
            if (_endsAtEof) return null;
            Lost("stopped delivering frames");
        }
    }

    private void Lost(string why)
    {
        if (_outageSince is not null) return;
        _outageSince = _time.GetUtcNow();
        Outages++;
        string line = $"camera {_device.Name} {why}; reopening with backoff up to {MaxBackoff.TotalSeconds:0.#} s";
        _log.LogWarning("{Line}", line);
        StatusChanged?.Invoke(line);
    }

    private void Recovered()
    {
        if (_outageSince is not { } since) return;
        _outageSince = null;
        string line = $"camera {_device.Name} back after {(_time.GetUtcNow() - since).TotalSeconds:0.0} s";
        _log.LogWarning("{Line}", line);
        StatusChanged?.Invoke(line);
    }

    public void Dispose() => _device.Dispose();
}
