using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Evaluation;
using EdgeInspect.Core.Geometry;
using Xunit;

namespace EdgeInspect.Core.Tests.Evaluation;

public class EvaluationAccumulatorTests
{
    private static LabelledImage Voc(string cls, params BoxF[] boxes) =>
        new("x.jpg", [.. boxes.Select(b => new LabelledBox(b, cls))], boxes.Length == 0 ? "ok" : cls, HasBoxes: true);

    [Fact]
    public void MatchBoxes_DuplicateDetection_CountsOnce()
    {
        var truth = new[] { new LabelledBox(new BoxF(0, 0, 10, 10), "a") };
        var predicted = new List<(BoxF, float)> { (new BoxF(0, 0, 10, 10), 0.9f), (new BoxF(1, 0, 10, 10), 0.8f) };

        Assert.Equal(1, EvaluationAccumulator.MatchBoxes(truth, predicted));
    }

    [Fact]
    public void MatchBoxes_IoUBelowHalf_IsNoMatch()
    {
        var truth = new[] { new LabelledBox(new BoxF(0, 0, 10, 10), "a") };
        // Overlap 5x10 = 50, union 150: IoU 1/3.
        var predicted = new List<(BoxF, float)> { (new BoxF(5, 0, 15, 10), 0.9f) };

        Assert.Equal(0, EvaluationAccumulator.MatchBoxes(truth, predicted));
    }

    [Fact]
    public void MatchBoxes_HigherScoreTakesBestOverlap_SecondBoxMatchesOther()
    {
        var truth = new[] { new LabelledBox(new BoxF(0, 0, 10, 10), "a"), new LabelledBox(new BoxF(20, 0, 30, 10), "a") };
        var predicted = new List<(BoxF, float)> { (new BoxF(20, 0, 30, 11), 0.5f), (new BoxF(0, 0, 10, 11), 0.95f) };

        Assert.Equal(2, EvaluationAccumulator.MatchBoxes(truth, predicted));
    }

    [Fact]
    public void Report_MixedResults_ComputesPrecisionRecallConfusionAndPartAccuracy()
    {
        var acc = new EvaluationAccumulator(["a", "b"]);
        // Image 1: class a, two boxes, one found plus one false positive; predicted a (right).
        acc.Add(Voc("a", new BoxF(0, 0, 10, 10), new BoxF(50, 50, 60, 60)),
            new Prediction([(new BoxF(0, 0, 10, 10), 0.9f), (new BoxF(80, 80, 90, 90), 0.8f)], "a", Verdict.Ng));
        // Image 2: class b, one box found; predicted a (wrong class, right verdict).
        acc.Add(Voc("b", new BoxF(0, 0, 20, 20)), new Prediction([(new BoxF(0, 0, 20, 20), 0.9f)], "a", Verdict.Ng));
        // Image 3: an OK part with no boxes, predicted OK.
        acc.Add(Voc("ok"), new Prediction([], "ok", Verdict.Ok));
        // Image 4: class b missed entirely: predicted OK.
        acc.Add(Voc("b", new BoxF(0, 0, 20, 20)), new Prediction([], "ok", Verdict.Ok));

        var r = acc.Report();

        Assert.Equal(4, r.GroundTruthBoxes);
        Assert.Equal(3, r.PredictedBoxes);
        Assert.Equal(2, r.TruePositiveBoxes);
        Assert.Equal(2.0 / 3, r.BoxPrecision, 6);
        Assert.Equal(0.5, r.BoxRecall, 6);
        Assert.Equal(["a", "b", "ok"], r.ConfusionLabels);
        Assert.Equal([1, 0, 0], r.Confusion[0]);
        Assert.Equal([1, 0, 1], r.Confusion[1]);
        Assert.Equal([0, 0, 1], r.Confusion[2]);
        Assert.Equal(0.5, r.ClassAccuracy, 6);
        var a = r.PerClass.Single(c => c.Class == "a");
        Assert.Equal(0.5, a.Precision, 6);
        Assert.Equal(1.0, a.Recall, 6);
        Assert.Equal(2 * 0.5 / 1.5, a.F1, 6);
        var b = r.PerClass.Single(c => c.Class == "b");
        Assert.Equal(0, b.Recall);
        Assert.Equal(0.75, r.PartAccuracy, 6);
        Assert.Equal(1, r.FalseNegativeNg);
        Assert.Contains("part OK/NG accuracy: 75.0%", r.ToText(), StringComparison.Ordinal);
    }
}
