using System.Text.Json.Nodes;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Shadow;

namespace EdgeInspect.Station.Fleet.Shadow;

/// <summary>
/// The three-way shadow of a candidate: human, active model and candidate on the same live parts, with the
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
