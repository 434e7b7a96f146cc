using System.Device.Gpio;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Gpio;

namespace EdgeInspect.Station.Io;

/// <summary>
/// Turns a free-running camera into a triggered part source: each debounced rising edge of the part-present
/// sensor (`Gpio:PartPresent`) is one part, and its frame is the first the camera delivers at or after the edge
/// (older frames still queued in the camera are discarded: they show the belt before the part arrived). Being
/// triggered, these frames are never dropped by the capture stage; a part waits for room instead.
/// <para>
/// A trigger older than the maximum age (<c>Source:MaxTriggerAgeMs</c>) when it is served, or whose first frame comes
/// later than that after the edge, is paired with no frame: its part is delivered with <see cref="Frame.Fault"/> set (and
/// recorded fail-safe), and the late frame is kept for the next trigger. Pairing it with a later part's frame would shift
/// every following verdict onto the wrong part.
/// </para>
/// </summary>
public sealed class PartPresentTrigger : IFrameSource
{
    private readonly IFrameSource _camera;
    private readonly DebouncedButton _sensor;
    private readonly Queue<DateTimeOffset> _edges = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly TimeSpan? _maxAge;
    private Frame? _held;
    private long _parts;

    /// <summary>Watches <paramref name="pin"/> (debounced) and pairs each edge with the camera's next frame.</summary>
    /// <param name="maxTriggerAge">The longest time from the edge to its frame; null: no limit.</param>
    public PartPresentTrigger(IFrameSource camera, GpioController gpio, int pin, TimeSpan debounce, TimeProvider time, TimeSpan? maxTriggerAge = null)
    {
        _camera = camera;
        _time = time;
        _maxAge = maxTriggerAge;
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
        if (_maxAge is { } max && _time.GetUtcNow() - edge > max)
        {
            return Frame.Faulted(part, edge, $"part-{part}", $"trigger expired: not served within {max.TotalMilliseconds:0} ms of the part-present edge");
        }
        while (true)
        {
            var frame = _held ?? await _camera.ReadAsync(cancellationToken);
            _held = null;
            if (frame is null) return null;
            if (frame.CapturedAt < edge) { frame.Dispose(); continue; }
            if (_maxAge is { } limit && frame.CapturedAt - edge > limit)
            {
                _held = frame; // too late for this part; it may be the next one's
                return Frame.Faulted(part, edge, $"part-{part}", $"no frame within {limit.TotalMilliseconds:0} ms of the part-present edge");
            }
            var partFrame = new Frame(frame.Image, frame.Sequence, frame.CapturedAt, $"part-{part}");
            return partFrame; // the image moves to the part's frame, which now owns (and disposes) it
        }
    }

    public void Dispose()
    {
        _sensor.Dispose();
        _held?.Dispose();
        _camera.Dispose();
        _signal.Dispose();
    }
}
