using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Station.Pipeline;

namespace EdgeInspect.Web.Live;

/// <summary>
/// Keeps a copy of the newest stored part for the live page. It runs on the record stage's thread, so it copies the
/// pixels only when the encoder has taken the previous copy: at most the encoder's rate, never per frame, and it
/// never waits on the encoder.
/// </summary>
public sealed class LiveFrameObserver : IPartObserver
{
    private readonly Lock _lock = new();
    private byte[] _pixels = [];
    private int _width, _height;
    private InspectionRecord? _pending;
    private long _parts;
    private long _lastPartTicks = long.MinValue;

    /// <summary>Parts seen since start (the record stage's count; /readyz reads it with <see cref="LastPartAt"/>).</summary>
    public long Parts => Interlocked.Read(ref _parts);

    /// <summary>When the newest part was stored (its decision time), or null before the first part.</summary>
    public DateTimeOffset? LastPartAt
    {
        get
        {
            // Ticks in a long, read and written atomically: a DateTimeOffset? could tear between two threads.
            long ticks = Interlocked.Read(ref _lastPartTicks);
            return ticks == long.MinValue ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
        }
    }

    /// <inheritdoc/>
    public void OnPart(Frame frame, InspectionRecord record)
    {
        Interlocked.Increment(ref _parts);
        Interlocked.Exchange(ref _lastPartTicks, record.DecidedAt.UtcTicks);
        // The encoder draws from the buffer under the lock; a part that arrives meanwhile is skipped, never waited for.
        if (!_lock.TryEnter()) return;
        try
        {
            if (_pending is not null) return; // the encoder has not taken the previous part yet: it is rate-capped
            var image = frame.Image;
            if (_pixels.Length < image.Length) _pixels = new byte[image.Length];
            image.Pixels.CopyTo(_pixels);
            _width = image.Width;
            _height = image.Height;
            _pending = record;
        }
        finally { _lock.Exit(); }
    }

    /// <summary>
    /// Hands the pending part to <paramref name="use"/> (on the caller's thread, under the lock, so the buffer is not
    /// overwritten meanwhile) and frees the slot; false when no new part arrived since the last call.
    /// </summary>
    public bool TryTake<T>(Func<ReadOnlySpan<byte>, int, int, InspectionRecord, T> use, out T? result)
    {
        lock (_lock)
        {
            if (_pending is not { } record)
            {
                result = default;
                return false;
            }
            try { result = use(_pixels.AsSpan(0, _width * _height * 3), _width, _height, record); }
            finally { _pending = null; }
            return true;
        }
    }
}
