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
    public void AveragePrecision_HitMissHit_IsAreaUnderInterpolatedCurve()
    {
        // Two labelled boxes; scores 0.9 hit, 0.8 miss, 0.7 hit: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1.
        // Interpolated (non-increasing from the right): 1 up to recall 1/2, then 2/3: AP = 0.5 * 1 + 0.5 * 2/3.
        var boxes = new[] { (0.8f, false), (0.9f, true), (0.7f, true) };

        Assert.Equal(0.5 + (0.5 * 2 / 3.0), EvaluationAccumulator.AveragePrecision(boxes, 2), 9);
        Assert.Equal(0.5 * 1 + (0.5 * 0), EvaluationAccumulator.AveragePrecision([(0.9f, true)], 2), 9); // half the boxes never found
        Assert.Equal(0, EvaluationAccumulator.AveragePrecision([(0.9f, true)], 0));
    }

    [Fact]
    public void Report_CurveBoxesBelowOperatingPoint_RaiseApButNotPrecisionRecall()
    {
        var acc = new EvaluationAccumulator(["a", "b"], scoreFloor: 0.05);
        var truth = Voc("a", new BoxF(0, 0, 10, 10), new BoxF(50, 50, 60, 60));
        var found = (new BoxF(0, 0, 10, 10), 0.9f);
        var low = (new BoxF(50, 50, 60, 60), 0.1f); // below the package's threshold: only on the curve
        acc.Add(truth, new Prediction([found], "a", Verdict.Ng), [found, low]);
        // The same boxes on an image of class b called a: the box class (a) never matches b's labelled box.
        acc.Add(Voc("b", new BoxF(0, 0, 10, 10)), new Prediction([found], "a", Verdict.Ng), [found]);

        var r = acc.Report();

        Assert.Equal(1.0, r.BoxPrecision, 6); // operating point: 2 predicted, both found (matching is class-agnostic)
        Assert.Equal(2.0 / 3, r.BoxRecall, 6);
        // Class-agnostic curve: 0.9 hit, 0.9 hit, 0.1 hit over 3 labelled boxes: AP 1.
        Assert.Equal(1.0, r.AveragePrecision, 6);
        // Class-aware: class a's curve 0.9 hit (a's image), 0.9 miss (b's image), 0.1 hit, over a's 2 boxes:
        // precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> 0.5 + 0.5 * 2/3; class b has no box of its class: AP 0.
        var apA = r.AveragePrecisionPerClass.Single(c => c.Class == "a");
        Assert.Equal(0.5 + (0.5 * 2 / 3.0), apA.AveragePrecision, 6);
        Assert.Equal(0, r.AveragePrecisionPerClass.Single(c => c.Class == "b").AveragePrecision);
        Assert.Equal((apA.AveragePrecision + 0) / 2, r.MeanAveragePrecision, 6);
        Assert.Equal(0.05, r.ScoreFloor);
        Assert.Contains("every box down to score 0.05", r.ToText(), StringComparison.Ordinal);
    }

    [Fact]
    public void Report_ClassProbabilities_RankClassCurveByScoreTimesProbabilityAgnosticCurveByScore()
    {
        var acc = new EvaluationAccumulator(["a", "b"], scoreFloor: 0.05);
        var truth = Voc("a", new BoxF(0, 0, 10, 10));
        var stray = (new BoxF(50, 50, 60, 60), 0.9f); // off every labelled box; the classifier doubts it is an "a"
        var hit = (new BoxF(0, 0, 10, 10), 0.6f);
        acc.Add(truth, new Prediction([stray], "a", Verdict.Ng), [stray, hit], [0.2f, 0.9f]);

        var r = acc.Report();

        // By detector score: 0.9 miss, 0.6 hit -> precision 1/2 at recall 1. By class score: 0.54 hit, 0.18 miss -> 1.
        var apA = r.AveragePrecisionPerClass.Single(c => c.Class == "a");
        Assert.Equal(1.0, apA.AveragePrecision, 6);
        Assert.Equal(0.5, apA.ByDetectorScore, 6);
        Assert.Equal(1.0, r.MeanAveragePrecision, 6);
        Assert.Equal(0.5, r.MeanAveragePrecisionByDetectorScore, 6);
        Assert.Equal(0.5, r.AveragePrecision, 6); // class-agnostic: detector score only
        Assert.True(r.RankedByClassScore);
        Assert.Contains("mAP 1.000 (a box takes its image's predicted class, ranked by detector score x its probability of that class; by detector score alone 0.500)", r.ToText(), StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => acc.Add(truth, new Prediction([stray], "a", Verdict.Ng), [stray, hit], [0.2f]));
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
        // By image class: a's image has 2 boxes, 1 found of 2 predicted; b's two images 2 boxes, 1 found of 1 predicted;
        // the OK image has no box and no prediction.
        var da = r.DetectionPerClass.Single(d => d.Class == "a");
        Assert.Equal((1, 2, 2, 1), (da.Images, da.GroundTruthBoxes, da.PredictedBoxes, da.TruePositiveBoxes));
        Assert.Equal(0.5, da.Precision, 6);
        var db = r.DetectionPerClass.Single(d => d.Class == "b");
        Assert.Equal((2, 2, 1, 1), (db.Images, db.GroundTruthBoxes, db.PredictedBoxes, db.TruePositiveBoxes));
        Assert.Equal(1.0, db.Precision, 6);
        Assert.Equal(0.5, db.Recall, 6);
        Assert.Equal(["a", "b", "ok"], r.DetectionPerClass.Select(d => d.Class));
        Assert.Contains("detection by image class", r.ToText(), StringComparison.Ordinal);
    }
}
