using System.Text.Json.Nodes;

namespace EdgeInspect.Station.Fleet.Shadow;

/// <summary>
/// Rolling windows over a model's last parts: failures and latency over the last <see cref="RollbackOptions.WindowParts"/>
/// parts, disagreement with the human over the last <see cref="RollbackOptions.WindowParts"/> parts that had a human
/// verdict. The two are kept apart because human verdicts can be sparse: in partial and full only the audit-sampled
/// parts (a few percent) have one, and a rate over the few such parts in a window of all parts would swing on one part.
/// Tells when a rate or the 95th percentile latency crosses <see cref="RollbackOptions"/>. Not thread-safe (the agent's lock).
/// </summary>
public sealed class ModelWatch(RollbackOptions limits)
{
    private readonly bool[] _failed = new bool[limits.WindowParts];
    private readonly double[] _latency = new double[limits.WindowParts];
    private readonly double[] _sorted = new double[limits.WindowParts];
    private readonly bool[] _disagreed = new bool[limits.WindowParts];
    private readonly int _minCompared = Math.Min(limits.MinComparedParts, limits.WindowParts);
    private int _next, _count, _nextCompared, _compared;

    public long Parts { get; private set; }

    /// <summary>Parts with a human verdict seen so far (all of them, not only the window's).</summary>
    public long ComparedParts { get; private set; }

    /// <param name="failed">The model threw or gave no verdict.</param>
    /// <param name="agreedWithHuman">Null when there was no human verdict to compare with.</param>
    public void Add(bool failed, bool? agreedWithHuman, double latencyMs)
    {
        _failed[_next] = failed;
        _latency[_next] = latencyMs;
        _next = (_next + 1) % _failed.Length;
        _count = Math.Min(_count + 1, _failed.Length);
        Parts++;
        if (agreedWithHuman is { } agreed)
        {
            _disagreed[_nextCompared] = !agreed;
            _nextCompared = (_nextCompared + 1) % _disagreed.Length;
            _compared = Math.Min(_compared + 1, _disagreed.Length);
            ComparedParts++;
        }
    }

    public bool WindowFull => _count == _failed.Length;

    /// <summary>Failures over the parts in the window.</summary>
    public double FailureRate => Rate(_failed, _count);

    /// <summary>Disagreements over the parts in the window of compared parts.</summary>
    public double DisagreementRate => Rate(_disagreed, _compared);

    public double P95LatencyMs
    {
        get
        {
            if (_count == 0) return 0;
            Array.Copy(_latency, _sorted, _count);
            Array.Sort(_sorted, 0, _count);
            return _sorted[Math.Min(_count - 1, (int)Math.Ceiling(0.95 * _count) - 1)];
        }
    }

    /// <summary>
    /// The limit crossed (a one-line reason), or null. Failures and latency are judged once the window is full;
    /// disagreement once <see cref="RollbackOptions.MinComparedParts"/> parts with a human verdict are in its window.
    /// </summary>
    public string? Breach()
    {
        if (_compared >= _minCompared)
        {
            var disagreement = DisagreementRate;
            if (disagreement > limits.MaxErrorRate)
                return $"disagreement with the human {disagreement:P1} over the last {_compared} parts with a human verdict is above Fleet:Rollback:MaxErrorRate {limits.MaxErrorRate:P1}";
        }
        if (!WindowFull) return null;
        var failures = FailureRate;
        if (failures > limits.MaxErrorRate)
            return $"failure rate {failures:P1} over the last {_count} parts is above Fleet:Rollback:MaxErrorRate {limits.MaxErrorRate:P1}";
        var p95 = P95LatencyMs;
        if (p95 > limits.MaxLatencyMs)
            return $"p95 latency {p95:F1} ms over the last {_count} parts is above Fleet:Rollback:MaxLatencyMs {limits.MaxLatencyMs:F0}";
        return null;
    }

    public JsonObject ToJson() => new()
    {
        ["parts"] = Parts,
        ["window"] = _count,
        ["failureRate"] = Math.Round(FailureRate, 4),
        ["comparedParts"] = ComparedParts,
        ["comparedWindow"] = _compared,
        ["disagreementRate"] = Math.Round(DisagreementRate, 4),
        ["p95LatencyMs"] = Math.Round(P95LatencyMs, 2),
    };

    private static double Rate(bool[] ring, int count)
    {
        if (count == 0) return 0;
        int hits = 0;
        for (int i = 0; i < count; i++)
        {
            if (ring[i]) hits++;
        }
        return (double)hits / count;
    }
}
