using System.Collections.Concurrent;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Station.Pipeline;

namespace EdgeInspect.Web.Metrics;

/// <summary>
/// Counts every stored part by verdict and source and observes each stage's latency, on the record stage's thread
/// (a few interlocked adds per part; nothing is formatted until /metrics is read).
/// </summary>
public sealed class StationMetrics : IPartObserver
{
    private readonly long[,] _parts = new long[Enum.GetValues<Verdict>().Length, Enum.GetValues<VerdictSource>().Length];
    private readonly ConcurrentDictionary<string, LatencyHistogram> _stages = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public void OnPart(Frame frame, InspectionRecord record)
    {
        Interlocked.Increment(ref _parts[(int)record.Verdict, (int)record.VerdictSource]);
        foreach (var (stage, ms) in record.LatencyMs) _stages.GetOrAdd(stage, _ => new LatencyHistogram()).Observe(ms / 1000.0);
    }

    /// <summary>Parts stored since start with this verdict and source.</summary>
    public long Parts(Verdict verdict, VerdictSource source) => Interlocked.Read(ref _parts[(int)verdict, (int)source]);

    /// <summary>Each stage's latency histogram, by stage name, in name order.</summary>
    public IEnumerable<KeyValuePair<string, LatencyHistogram>> Stages => _stages.OrderBy(kv => kv.Key, StringComparer.Ordinal);
}
