using Microsoft.Extensions.Logging;

namespace EdgeInspect.Station.Pipeline;

/// <summary>
/// Logs a fault at most once per <see cref="Interval"/> per kind, with how many of that kind were not logged since, so a
/// camera or a pin that fails on every part fills neither the journal nor the SD card.
/// </summary>
public sealed class FaultLog(ILogger log, TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (DateTimeOffset Last, long Suppressed)> _kinds = [];

    /// <summary>The shortest time between two lines of one kind.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Logs <paramref name="message"/> (an error) unless one of <paramref name="kind"/> was logged within <see cref="Interval"/>.</summary>
    public void Fault(string kind, string message, Exception? exception = null)
    {
        var now = time.GetUtcNow();
        long suppressed;
        lock (_lock)
        {
            if (_kinds.TryGetValue(kind, out var k) && now - k.Last < Interval)
            {
                _kinds[kind] = (k.Last, k.Suppressed + 1);
                return;
            }
            suppressed = k.Suppressed;
            _kinds[kind] = (now, 0);
        }
        if (suppressed > 0) log.LogError(exception, "{Kind}: {Message} ({Suppressed} more since the last line)", kind, message, suppressed);
        else log.LogError(exception, "{Kind}: {Message}", kind, message);
    }
}
