using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Packages;

namespace EdgeInspect.Core.Inspection;

/// <summary>The policy's conclusion for one part.</summary>
/// <param name="Verdict">OK or NG.</param>
/// <param name="Confidence">How sure the model is of that verdict, 0..1.</param>
/// <param name="PartClass">The part's class: the defect class with the highest summed evidence, or "ok".</param>
/// <param name="MeetsActThreshold">Whether <paramref name="Confidence"/> reaches the class's act threshold
/// (partial automation lets the model actuate alone only then).</param>
public readonly record struct Decision(Verdict Verdict, float Confidence, string PartClass, bool MeetsActThreshold);

/// <summary>
/// Turns classified regions into a part verdict (the package's <see cref="DecisionSpec"/>). Pure: no IO,
/// no allocation beyond the evidence array it owns.
/// Rules: a region counts when its detector score is at least MinRegionScore. Its class is the
/// classifier's arg-max (or, with no classifier, it is a generic "defect"). The part's class is the
/// class (of the verdict's kind) with the highest summed evidence (detector score x class probability over counted regions):
/// a part carries one dominant defect, as every NEU-DET image does. The part is NG when any counted
/// region's class is an NG class (every class when NgClasses is empty).
/// A whole-frame region (classifier.wholeImage) always counts; its evidence is WholeImageWeight x class probability.
/// Confidence of NG: the strongest NG evidence (score x class probability) among regions; of OK with
/// no counted region: 1 - the highest score of the regions below MinRegionScore; of OK with only
/// non-NG regions: the lowest class probability among them.
/// </summary>
public sealed class DecisionPolicy
{
    public const string DefectClass = "defect";
    private readonly DecisionSpec _spec;
    private readonly IReadOnlyList<string> _classes;
    private readonly bool[] _isNg;
    private readonly float[] _evidence;

    private readonly float _wholeImageWeight;

    /// <param name="wholeImageWeight">Weight of a whole-frame region's class probabilities (its detector score is not a score).</param>
    public DecisionPolicy(DecisionSpec spec, IReadOnlyList<string> classes, float wholeImageWeight = 1f)
    {
        _spec = spec;
        _wholeImageWeight = wholeImageWeight;
        _classes = classes.Count == 0 ? [DefectClass] : classes;
        var ng = new HashSet<string>(spec.NgClasses, StringComparer.Ordinal);
        _isNg = [.. _classes.Select(c => ng.Count == 0 || ng.Contains(c))];
        _evidence = new float[_classes.Count];
    }

    public IReadOnlyList<string> Classes => _classes;

    public float ActThreshold(string partClass) =>
        _spec.ActThresholds.TryGetValue(partClass, out float t) ? t : _spec.DefaultActThreshold;

    public Decision Decide(IReadOnlyList<Region> regions)
    {
        Array.Clear(_evidence);
        float strongestNg = 0, weakestOk = 1, highestIgnored = 0;
        int counted = 0;
        bool ng = false;
        for (int i = 0; i < regions.Count; i++)
        {
            var r = regions[i];
            if (!r.WholeFrame && r.Score < _spec.MinRegionScore)
            {
                highestIgnored = MathF.Max(highestIgnored, r.Score);
                continue;
            }
            counted++;
            int cls = ArgMax(r.ClassProbabilities);
            float p = r.ClassProbabilities.Length == 0 ? 1f : r.ClassProbabilities[cls];
            float weight = r.WholeFrame ? _wholeImageWeight : r.Score;
            for (int c = 0; c < _evidence.Length; c++)
            {
                _evidence[c] += weight * (r.ClassProbabilities.Length == 0 ? (c == 0 ? 1f : 0f) : r.ClassProbabilities[c]);
            }
            if (_isNg[cls])
            {
                ng = true;
                strongestNg = MathF.Max(strongestNg, r.WholeFrame ? p : r.Score * p);
            }
            else
            {
                weakestOk = MathF.Min(weakestOk, p);
            }
        }
        // An NG part is named after its strongest NG class; an OK part with regions after its strongest
        // non-NG class (a tolerated blemish), so the class always agrees with the verdict.
        string partClass = counted == 0 ? LabelledOk : _classes[ArgMax(_evidence, _isNg, ng)];
        float confidence = ng ? strongestNg : counted == 0 ? 1 - highestIgnored : weakestOk;
        var verdict = ng ? Verdict.Ng : Verdict.Ok;
        return new Decision(verdict, confidence, partClass, confidence >= ActThreshold(partClass));
    }

    private const string LabelledOk = "ok";

    private static int ArgMax(float[] values, bool[] isNg, bool wantNg)
    {
        int best = -1;
        for (int i = 0; i < values.Length; i++)
        {
            if (isNg[i] == wantNg && (best < 0 || values[i] > values[best])) best = i;
        }
        return best;
    }

    private static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++)
        {
            if (values[i] > values[best]) best = i;
        }
        return best;
    }
}
