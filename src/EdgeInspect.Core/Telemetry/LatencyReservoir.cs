namespace EdgeInspect.Core.Telemetry;

/// <summary>
/// Percentiles of one stage's latency over a telemetry interval: a fixed-size uniform sample of every value recorded
/// in the interval (Vitter's Algorithm R, ACM TOMS 11(1), 1985), so memory is bounded and nothing is allocated per
/// value, and the percentiles are exact while the interval holds at most <see cref="Capacity"/> values. Beyond that
/// they are estimates; with 4096 samples the nearest-rank p95 is within about one percentile point of the true one.
/// Not thread-safe: the recorder locks around it.
/// </summary>
public sealed class LatencyReservoir
{
    private readonly double[] _samples;
    private readonly Random _random;
    private long _seen;
    private double _max;

    public LatencyReservoir(int capacity = 4096, Random? random = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _samples = new double[capacity];
        _random = random ?? new Random(capacity);
    }

    public int Capacity => _samples.Length;

    /// <summary>Values recorded since the last <see cref="Reset"/>.</summary>
    public long Count => _seen;

    public void Add(double value)
    {
        if (_seen == 0 || value > _max) _max = value;
        if (_seen < _samples.Length)
        {
            _samples[_seen] = value;
        }
        else
        {
            // keep the new value with probability capacity / (seen + 1), replacing a uniformly chosen one
            var j = _random.NextInt64(_seen + 1);
            if (j < _samples.Length) _samples[j] = value;
        }
        _seen++;
    }

    /// <summary>Nearest-rank percentiles (p in 0..100) of the sample, plus the exact maximum; null when empty.</summary>
    public LatencyPercentiles? Percentiles()
    {
        if (_seen == 0) return null;
        var n = (int)Math.Min(_seen, _samples.Length);
        var sorted = _samples.AsSpan(0, n).ToArray();
        Array.Sort(sorted);
        return new LatencyPercentiles(_seen, NearestRank(sorted, 50), NearestRank(sorted, 95), NearestRank(sorted, 99), _max);
    }

    public void Reset()
    {
        _seen = 0;
        _max = 0;
    }

    /// <summary>The smallest value with at least p% of the sample at or below it (nearest-rank definition).</summary>
    public static double NearestRank(ReadOnlySpan<double> sorted, double p)
    {
        if (sorted.Length == 0) throw new ArgumentException("empty sample", nameof(sorted));
        var rank = (int)Math.Ceiling(p / 100.0 * sorted.Length);
        return sorted[Math.Clamp(rank, 1, sorted.Length) - 1];
    }
}

/// <summary>Latency percentiles of one stage over one interval, in milliseconds.</summary>
public sealed record LatencyPercentiles(long Count, double P50, double P95, double P99, double Max);
