namespace EdgeInspect.Web.Metrics;

/// <summary>A cumulative Prometheus histogram of seconds with fixed buckets; thread-safe.</summary>
public sealed class LatencyHistogram
{
    /// <summary>Upper bounds in seconds: 1 ms to 5 s, the span of a part's stages from one network to a whole part.</summary>
    public static readonly double[] Bounds = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

    private readonly Lock _lock = new();
    private readonly long[] _counts = new long[Bounds.Length];
    private long _count;
    private double _sum;

    /// <summary>Counts one observation of <paramref name="seconds"/>.</summary>
    public void Observe(double seconds)
    {
        if (double.IsNaN(seconds) || seconds < 0) return;
        lock (_lock)
        {
            for (int i = 0; i < Bounds.Length; i++)
            {
                if (seconds <= Bounds[i]) _counts[i]++;
            }
            _count++;
            _sum += seconds;
        }
    }

    /// <summary>Cumulative bucket counts (same order as <see cref="Bounds"/>), the total count and the sum, read together.</summary>
    public (long[] Buckets, long Count, double Sum) Read()
    {
        lock (_lock) return ((long[])_counts.Clone(), _count, _sum);
    }
}
