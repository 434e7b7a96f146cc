using System.Device.Gpio;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Gpio;

namespace EdgeInspect.Station.Io;

/// <summary>
/// Turns a free-running camera into a triggered part source: each debounced rising edge of the part-present
/// sensor (`Gpio:PartPresent`) is one part, and its frame is the first the camera delivers at or after the edge
/// (older frames still queued in the camera are discarded: they show the belt before the part arrived). Being
/// triggered, these frames are never dropped by the capture stage; a part waits for room instead.
/// </summary>
public sealed class PartPresentTrigger : IFrameSource
{
    private readonly IFrameSource _camera;
    private readonly DebouncedButton _sensor;
    private readonly Queue<DateTimeOffset> _edges = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly Lock _lock = new();
    private long _parts;

    public PartPresentTrigger(IFrameSource camera, GpioController gpio, int pin, TimeSpan debounce, TimeProvider time)
    {
        _camera = camera;
        _sensor = new DebouncedButton(gpio, pin, debounce, time);
        _sensor.Pressed += at =>
        {
            lock (_lock) _edges.Enqueue(at);
            _signal.Release();
        };
    }

    public string Name => $"{_camera.Name} triggered by part-present";
    public bool Triggered => true;

    public async ValueTask<Frame?> ReadAsync(CancellationToken cancellationToken)
    {
        await _signal.WaitAsync(cancellationToken);
        DateTimeOffset edge;
        lock (_lock) edge = _edges.Dequeue();
        long part = ++_parts;
        while (true)
        {
            var frame = await _camera.ReadAsync(cancellationToken);
            if (frame is null) return null;
            if (frame.CapturedAt < edge) { frame.Dispose(); continue; }
            var partFrame = new Frame(frame.Image, frame.Sequence, frame.CapturedAt, $"part-{part}");
            return partFrame; // the image moves to the part's frame, which now owns (and disposes) it
        }
    }

    public void Dispose()
    {
        _sensor.Dispose();
        _camera.Dispose();
        _signal.Dispose();
    }
}
