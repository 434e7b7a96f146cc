using System.Text.Json.Nodes;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Shadow;

namespace EdgeInspect.Station.Fleet.Shadow;

/// <summary>
/// Rolling window over a model's last parts: failures, disagreements with the human, latency. Tells when the error
/// rate or the 95th percentile latency crosses <see cref="RollbackOptions"/>. Not thread-safe (the agent's lock).
/// </summary>
public sealed class ModelWatch(RollbackOptions limits)
{
    private readonly bool[] _error = new bool[limits.WindowParts];
    private readonly bool[] _judged = new bool[limits.WindowParts];
    private readonly double[] _latency = new double[limits.WindowParts];
    private readonly double[] _sorted = new double[limits.WindowParts];
    private int _next, _count;

    public long Parts { get; private set; }

    /// <param name="failed">The model threw or gave no verdict.</param>
    /// <param name="agreedWithHuman">Null when there was no human verdict to compare with.</param>
    public void Add(bool failed, bool? agreedWithHuman, double latencyMs)
    {
        _error[_next] = failed || agreedWithHuman == false;
        _judged[_next] = failed || agreedWithHuman is not null;
        _latency[_next] = latencyMs;
        _next = (_next + 1) % _error.Length;
        _count = Math.Min(_count + 1, _error.Length);
        Parts++;
    }

    public bool WindowFull => _count == _error.Length;

    public double ErrorRate
    {
        get
        {
            int judged = 0, errors = 0;
            for (int i = 0; i < _count; i++)
            {
                if (!_judged[i]) continue;
                judged++;
                if (_error[i]) errors++;
            }
            return judged == 0 ? 0 : (double)errors / judged;
        }
    }

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

    /// <summary>The limit crossed (a one-line reason), or null; only judged once the window is full.</summary>
    public string? Breach()
    {
        if (!WindowFull) return null;
        var rate = ErrorRate;
        if (rate > limits.MaxErrorRate)
            return $"error rate {rate:P1} over the last {_count} parts is above Fleet:Rollback:MaxErrorRate {limits.MaxErrorRate:P1}";
        var p95 = P95LatencyMs;
        if (p95 > limits.MaxLatencyMs)
            return $"p95 latency {p95:F1} ms over the last {_count} parts is above Fleet:Rollback:MaxLatencyMs {limits.MaxLatencyMs:F0}";
        return null;
    }

    public JsonObject ToJson() => new()
    {
        ["parts"] = Parts,
        ["window"] = _count,
        ["errorRate"] = Math.Round(ErrorRate, 4),
        ["p95LatencyMs"] = Math.Round(P95LatencyMs, 2),
    };
}
