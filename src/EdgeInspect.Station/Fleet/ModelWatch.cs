using System.Text.Json.Nodes;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Shadow;

namespace EdgeInspect.Station.Fleet;

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

/// <summary>
/// The three-way shadow of a candidate (issue 6): human, active model and candidate on the same live parts, with the
/// candidate's own statistics. Not thread-safe (the agent's lock).
/// </summary>
public sealed class CandidateShadow
{
    public long Parts { get; private set; }
    public long CandidateFailures { get; private set; }
    /// <summary>Parts with a human verdict and a candidate verdict.</summary>
    public long PairedWithHuman { get; private set; }
    public long CandidateAgreesHuman { get; private set; }
    /// <summary>Of <see cref="PairedWithHuman"/>, those with an active-model verdict too.</summary>
    public long ThreeWay { get; private set; }
    public long ActiveAgreesHuman { get; private set; }
    public long CandidateAgreesActive { get; private set; }
    public long ActivePaired { get; private set; }
    private double _latencySum;

    public void Add(Verdict? human, Verdict? active, Verdict? candidate, double candidateLatencyMs)
    {
        Parts++;
        _latencySum += candidateLatencyMs;
        if (candidate is not { } c)
        {
            CandidateFailures++;
            return;
        }
        if (active is { } a)
        {
            ActivePaired++;
            if (a == c) CandidateAgreesActive++;
        }
        if (human is not { } h) return;
        PairedWithHuman++;
        if (h == c) CandidateAgreesHuman++;
        if (active is { } a2)
        {
            ThreeWay++;
            if (a2 == h) ActiveAgreesHuman++;
        }
    }

    public double CandidateAgreement => PairedWithHuman == 0 ? 0 : (double)CandidateAgreesHuman / PairedWithHuman;
    public double ActiveAgreement => ThreeWay == 0 ? 0 : (double)ActiveAgreesHuman / ThreeWay;
    public double CandidateLowerBound => Wilson.LowerBound(CandidateAgreesHuman, PairedWithHuman);

    /// <summary>Null when met, else why not (parts, bound, or worse than the active model on the same parts).</summary>
    public string? GateProblem(PromotionOptions gate)
    {
        if (PairedWithHuman < gate.MinParts)
            return $"candidate shadowed on {PairedWithHuman} parts with a human verdict, Fleet:Promotion:MinParts is {gate.MinParts}";
        if (CandidateLowerBound < gate.MinAgreement)
            return $"candidate agreement lower bound {CandidateLowerBound:P1} is below Fleet:Promotion:MinAgreement {gate.MinAgreement:P1}";
        if (ThreeWay > 0 && CandidateAgreement < ActiveAgreement)
            return $"candidate agrees with the human on {CandidateAgreement:P1} of parts, the active model on {ActiveAgreement:P1}";
        return null;
    }

    public JsonObject ToJson() => new()
    {
        ["parts"] = Parts,
        ["candidateFailures"] = CandidateFailures,
        ["pairedWithHuman"] = PairedWithHuman,
        ["candidateAgreesHuman"] = CandidateAgreesHuman,
        ["candidateAgreement"] = Math.Round(CandidateAgreement, 4),
        ["candidateLowerBound"] = Math.Round(CandidateLowerBound, 4),
        ["threeWay"] = ThreeWay,
        ["activeAgreesHuman"] = ActiveAgreesHuman,
        ["activeAgreement"] = Math.Round(ActiveAgreement, 4),
        ["candidateAgreesActive"] = CandidateAgreesActive,
        ["activePaired"] = ActivePaired,
        ["candidateMeanLatencyMs"] = Parts == 0 ? 0 : Math.Round(_latencySum / Parts, 2),
    };
}
