using System.Globalization;
using System.Text;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Geometry;

namespace EdgeInspect.Core.Evaluation;

/// <summary>A model's answer for one dataset image, as the evaluator needs it.</summary>
public sealed record Prediction(IReadOnlyList<(BoxF Box, float Score)> Boxes, string PartClass, Verdict Verdict);

/// <summary>Precision, recall and F1 of one class (image level: the part's class).</summary>
public sealed record ClassMetrics(string Class, int Support, double Precision, double Recall, double F1);

/// <summary>
/// Detection figures of the images of one class (the image's labelled class): where a detector finds one kind of
/// defect and misses another. Boxes are matched as for the totals; precision counts every box predicted on those
/// images.
/// </summary>
public sealed record ClassDetectionMetrics(string Class, int Images, int GroundTruthBoxes, int PredictedBoxes, int TruePositiveBoxes)
{
    public double Precision => PredictedBoxes == 0 ? 0 : (double)TruePositiveBoxes / PredictedBoxes;
    public double Recall => GroundTruthBoxes == 0 ? 0 : (double)TruePositiveBoxes / GroundTruthBoxes;
}

/// <summary>
/// Average precision at IoU 0.5 of one class, Pascal VOC style (all-point interpolated area under the precision /
/// recall curve of every box down to the evaluation's score floor). A box's class is its image's predicted part
/// class; it can only match labelled boxes of that class. Boxes are ranked by their class score (detector score x
/// the classifier's probability of that class, the evidence the decision policy sums) where the caller gave the
/// probabilities, else by detector score; <paramref name="ByDetectorScore"/> is the same curve ranked by detector
/// score alone.
/// </summary>
public sealed record ClassAveragePrecision(string Class, int GroundTruthBoxes, int PredictedBoxes, double AveragePrecision, double ByDetectorScore);

/// <summary>Everything <c>edgeinspect eval</c> prints.</summary>
public sealed record EvaluationReport(
    int Images,
    int BoxImages,
    int GroundTruthBoxes,
    int PredictedBoxes,
    int TruePositiveBoxes,
    double BoxPrecision,
    double BoxRecall,
    double IoUThreshold,
    double ClassAccuracy,
    IReadOnlyList<ClassMetrics> PerClass,
    IReadOnlyList<string> ConfusionLabels,
    int[][] Confusion,
    double PartAccuracy,
    int TruePositiveNg,
    int FalsePositiveNg,
    int FalseNegativeNg,
    int TrueNegativeOk,
    IReadOnlyList<ClassDetectionMetrics> DetectionPerClass,
    double? ScoreFloor,
    double AveragePrecision,
    double MeanAveragePrecision,
    IReadOnlyList<ClassAveragePrecision> AveragePrecisionPerClass)
{
    /// <summary>mAP with every box ranked by its detector score alone (equal to <see cref="MeanAveragePrecision"/> without class probabilities).</summary>
    public double MeanAveragePrecisionByDetectorScore =>
        AveragePrecisionPerClass.Count == 0 ? 0 : AveragePrecisionPerClass.Average(a => a.ByDetectorScore);

    /// <summary>Whether the class-aware curves ranked boxes by class score (the caller gave class probabilities).</summary>
    public bool RankedByClassScore { get; init; }

    /// <summary>Escape and false-reject rates per part with their Wilson intervals, and the catch rate per defect class.</summary>
    public required PartOutcomes Parts { get; init; }

    /// <summary>Human-readable report: detection, per-class table, confusion matrix (rows = truth), part accuracy.</summary>
    public string ToText()
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(ci, $"images: {Images}");
        if (BoxImages > 0)
        {
            sb.AppendLine(ci, $"detection @ IoU {IoUThreshold:0.##}: precision {Pct(BoxPrecision)}  recall {Pct(BoxRecall)}  ({TruePositiveBoxes} matched of {GroundTruthBoxes} labelled boxes, {PredictedBoxes} predicted)");
        }
        int w = Math.Max(8, ConfusionLabels.Select(l => l.Length + 1).DefaultIfEmpty(0).Max());
        if (BoxImages > 0)
        {
            string floor = ScoreFloor is { } f ? $"every box down to score {f:0.###}" : "the boxes above the package's thresholds";
            string ranking = RankedByClassScore
                ? string.Create(ci, $"a box takes its image's predicted class, ranked by detector score x its probability of that class; by detector score alone {MeanAveragePrecisionByDetectorScore:0.000}")
                : "a box takes its image's predicted class";
            sb.AppendLine(ci, $"average precision @ IoU {IoUThreshold:0.##} ({floor}): class-agnostic AP {AveragePrecision:0.000}, mAP {MeanAveragePrecision:0.000} ({ranking})");
            sb.AppendLine("  AP per class: " + string.Join(", ", AveragePrecisionPerClass.Select(a => string.Create(ci, $"{a.Class} {a.AveragePrecision:0.000}"))));
        }
        if (DetectionPerClass.Count > 0)
        {
            sb.AppendLine(ci, $"detection by image class: {"images",6} {"boxes",6} {"found",6} {"predicted",9} {"precision",9} {"recall",7}");
            foreach (var d in DetectionPerClass)
            {
                sb.AppendLine(ci, $"  {d.Class.PadRight(w + 22)} {d.Images,6} {d.GroundTruthBoxes,6} {d.TruePositiveBoxes,6} {d.PredictedBoxes,9} {(d.PredictedBoxes == 0 ? "-" : Pct(d.Precision)),9} {(d.GroundTruthBoxes == 0 ? "-" : Pct(d.Recall)),7}");
            }
        }
        sb.AppendLine(ci, $"image-level class accuracy: {Pct(ClassAccuracy)}");
        sb.AppendLine(ci, $"{"class".PadRight(w)} {"support",8} {"precision",10} {"recall",8} {"F1",6}");
        foreach (var c in PerClass)
        {
            sb.AppendLine(ci, $"{c.Class.PadRight(w)} {c.Support,8} {c.Precision,10:0.000} {c.Recall,8:0.000} {c.F1,6:0.000}");
        }
        sb.AppendLine("confusion matrix (rows: truth, columns: predicted):");
        sb.Append(string.Empty.PadRight(w));
        foreach (var l in ConfusionLabels) sb.Append(' ').Append(Abbrev(l).PadLeft(6));
        sb.AppendLine();
        for (int i = 0; i < ConfusionLabels.Count; i++)
        {
            sb.Append(ConfusionLabels[i].PadRight(w));
            foreach (int n in Confusion[i]) sb.Append(' ').Append(n.ToString(ci).PadLeft(6));
            sb.AppendLine();
        }
        sb.AppendLine(ci, $"part OK/NG accuracy: {Pct(PartAccuracy)}  (NG caught {TruePositiveNg}, NG missed {FalseNegativeNg}, OK rejected {FalsePositiveNg}, OK passed {TrueNegativeOk})");
        sb.Append(Parts.ToText());
        return sb.ToString();
    }

    private static string Pct(double v) => (v * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    private static string Abbrev(string label) => label.Length <= 6 ? label : label[..6];
}

/// <summary>
/// Accumulates detection and classification results over a labelled dataset. Pure arithmetic.
/// Detection follows the Pascal VOC protocol (Everingham et al. 2010, section 4.2) at one operating
/// point: predictions sorted by score are matched greedily to the unmatched ground-truth box of
/// highest IoU; a match needs IoU &gt;= 0.5; each ground-truth box is matched at most once, so a
/// duplicate detection is a false positive. Matching is class-agnostic (the class is scored at
/// image level by the confusion matrix). Average precision takes a second, longer list of boxes per image when the
/// caller has one (the same cascade with its last threshold lowered to a floor), so the curve runs past the package's
/// operating point; there a box must also carry the class of the labelled box it matches.
/// </summary>
public sealed class EvaluationAccumulator
{
    private readonly List<string> _labels;
    private readonly Dictionary<(int Truth, int Predicted), int> _confusion = [];
    // Per labelled image class: images, ground-truth boxes, predicted boxes, matched boxes.
    private readonly Dictionary<string, (int Images, int Truth, int Predicted, int Matched)> _detectionByClass = new(StringComparer.Ordinal);
    private readonly double _iou;
    private int _images, _boxImages, _gt, _pred, _tp, _classCorrect;
    private int _ngCaught, _ngMissed, _okRejected, _okPassed;
    private readonly PartOutcomeCounter _outcomes = new();
    // Average precision: every scored box (class-agnostic and class-aware match) and the labelled boxes per class.
    private readonly List<(float Score, bool Matched)> _curve = [];
    private readonly Dictionary<string, List<(float Score, bool Matched)>> _curveByClass = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<(float Score, bool Matched)>> _curveByClassDetectorScore = new(StringComparer.Ordinal);
    private bool _classScores;
    private readonly Dictionary<string, int> _truthByClass = new(StringComparer.Ordinal);
    private readonly double? _scoreFloor;

    /// <param name="classes">Known class names (the model's); others seen in the data are appended.</param>
    /// <param name="scoreFloor">The score the curve boxes given to <see cref="Add"/> reach down to (reported only);
    /// null when the curve is the operating point's boxes.</param>
    public EvaluationAccumulator(IEnumerable<string> classes, double iouThreshold = 0.5, double? scoreFloor = null)
    {
        _labels = [.. classes];
        _iou = iouThreshold;
        _scoreFloor = scoreFloor;
    }

    /// <param name="curve">The image's boxes down to the score floor for average precision (a superset of the
    /// prediction's boxes); null: the prediction's own.</param>
    /// <param name="classProbabilities">For each box of <paramref name="curve"/>, the classifier's probability of the
    /// prediction's part class: the class-aware curves then rank boxes by score x probability. Null: by score.</param>
    public void Add(LabelledImage truth, Prediction prediction, IReadOnlyList<(BoxF Box, float Score)>? curve = null,
        IReadOnlyList<float>? classProbabilities = null)
    {
        _images++;
        var boxes = curve ?? prediction.Boxes;
        if (classProbabilities is not null && classProbabilities.Count != boxes.Count)
            throw new ArgumentException($"{classProbabilities.Count} class probabilities for {boxes.Count} boxes", nameof(classProbabilities));
        if (truth.HasBoxes)
        {
            AddToCurves(truth, prediction.PartClass, boxes, classProbabilities);
            _boxImages++;
            int matched = MatchBoxes(truth.Boxes, prediction.Boxes, _iou);
            _gt += truth.Boxes.Count;
            _pred += prediction.Boxes.Count;
            _tp += matched;
            var c = _detectionByClass.GetValueOrDefault(truth.PartClass);
            _detectionByClass[truth.PartClass] = (c.Images + 1, c.Truth + truth.Boxes.Count, c.Predicted + prediction.Boxes.Count, c.Matched + matched);
        }
        int t = LabelIndex(truth.PartClass), p = LabelIndex(prediction.PartClass);
        _confusion[(t, p)] = _confusion.GetValueOrDefault((t, p)) + 1;
        if (t == p) _classCorrect++;
        bool truthNg = truth.IsNg, predNg = prediction.Verdict == Verdict.Ng;
        _outcomes.Add(truth.PartClass, predNg);
        if (truthNg && predNg) _ngCaught++;
        else if (truthNg) _ngMissed++;
        else if (predNg) _okRejected++;
        else _okPassed++;
    }

    /// <summary>Greedy VOC matching; returns the number of true positives.</summary>
    public static int MatchBoxes(IReadOnlyList<LabelledBox> truth, IReadOnlyList<(BoxF Box, float Score)> predicted, double iouThreshold = 0.5) =>
        MatchFlags(truth, predicted, iouThreshold).Count(m => m);

    /// <summary>
    /// Greedy VOC matching: boxes in score order, each to the unmatched labelled box of highest IoU (at least
    /// <paramref name="iouThreshold"/>); with <paramref name="onlyClass"/>, only labelled boxes of that class count.
    /// Returns, for each predicted box in the given order, whether it matched.
    /// </summary>
    public static bool[] MatchFlags(IReadOnlyList<LabelledBox> truth, IReadOnlyList<(BoxF Box, float Score)> predicted,
        double iouThreshold = 0.5, string? onlyClass = null)
    {
        var used = new bool[truth.Count];
        var matched = new bool[predicted.Count];
        int[] order = [.. Enumerable.Range(0, predicted.Count).OrderByDescending(k => predicted[k].Score)];
        foreach (int k in order)
        {
            var box = predicted[k].Box;
            int best = -1;
            double bestIou = iouThreshold;
            for (int i = 0; i < truth.Count; i++)
            {
                if (used[i] || (onlyClass is not null && !string.Equals(truth[i].ClassName, onlyClass, StringComparison.Ordinal))) continue;
                double iou = BoxF.IoU(box, truth[i].Box);
                if (iou >= bestIou)
                {
                    bestIou = iou;
                    best = i;
                }
            }
            if (best >= 0)
            {
                used[best] = true;
                matched[k] = true;
            }
        }
        return matched;
    }

    private void AddToCurves(LabelledImage truth, string predictedClass, IReadOnlyList<(BoxF Box, float Score)> boxes,
        IReadOnlyList<float>? classProbabilities)
    {
        foreach (var b in truth.Boxes) _truthByClass[b.ClassName] = _truthByClass.GetValueOrDefault(b.ClassName) + 1;
        var agnostic = MatchFlags(truth.Boxes, boxes, _iou);
        for (int k = 0; k < boxes.Count; k++) _curve.Add((boxes[k].Score, agnostic[k]));
        if (LabelledImage.IsOkClass(predictedClass) || boxes.Count == 0) return; // boxes of a part called OK have no defect class
        var byScore = MatchFlags(truth.Boxes, boxes, _iou, predictedClass);
        AppendToCurve(_curveByClassDetectorScore, predictedClass, boxes, byScore);
        if (classProbabilities is null)
        {
            AppendToCurve(_curveByClass, predictedClass, boxes, byScore);
            return;
        }
        _classScores = true;
        // Matching follows the ranking: the greedy match takes boxes in class-score order, as the curve reads them.
        var scored = new (BoxF Box, float Score)[boxes.Count];
        for (int k = 0; k < boxes.Count; k++) scored[k] = (boxes[k].Box, boxes[k].Score * classProbabilities[k]);
        AppendToCurve(_curveByClass, predictedClass, scored, MatchFlags(truth.Boxes, scored, _iou, predictedClass));
    }

    private static void AppendToCurve(Dictionary<string, List<(float Score, bool Matched)>> curves, string predictedClass,
        IReadOnlyList<(BoxF Box, float Score)> boxes, bool[] matched)
    {
        if (!curves.TryGetValue(predictedClass, out var list)) curves[predictedClass] = list = [];
        for (int k = 0; k < boxes.Count; k++) list.Add((boxes[k].Score, matched[k]));
    }

    /// <summary>
    /// Pascal VOC (2010 on) average precision: boxes in descending score, precision made non-increasing from the
    /// right, summed over each step of recall. <paramref name="truthCount"/> labelled boxes; 0 with none.
    /// </summary>
    public static double AveragePrecision(IEnumerable<(float Score, bool Matched)> boxes, int truthCount)
    {
        if (truthCount == 0) return 0;
        var sorted = boxes.OrderByDescending(b => b.Score).ToList();
        var precision = new double[sorted.Count];
        var recall = new double[sorted.Count];
        int tp = 0;
        for (int i = 0; i < sorted.Count; i++)
        {
            if (sorted[i].Matched) tp++;
            precision[i] = (double)tp / (i + 1);
            recall[i] = (double)tp / truthCount;
        }
        for (int i = sorted.Count - 2; i >= 0; i--) precision[i] = Math.Max(precision[i], precision[i + 1]);
        double ap = 0, lastRecall = 0;
        for (int i = 0; i < sorted.Count; i++)
        {
            if (recall[i] > lastRecall)
            {
                ap += (recall[i] - lastRecall) * precision[i];
                lastRecall = recall[i];
            }
        }
        return ap;
    }

    public EvaluationReport Report()
    {
        int n = _labels.Count;
        var matrix = new int[n][];
        for (int i = 0; i < n; i++)
        {
            matrix[i] = new int[n];
            for (int j = 0; j < n; j++) matrix[i][j] = _confusion.GetValueOrDefault((i, j));
        }
        var perClass = new List<ClassMetrics>();
        for (int c = 0; c < n; c++)
        {
            int tp = matrix[c][c];
            int support = matrix[c].Sum();
            int predicted = matrix.Sum(row => row[c]);
            if (support == 0 && predicted == 0) continue;
            double precision = Ratio(tp, predicted), recall = Ratio(tp, support);
            double f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
            perClass.Add(new ClassMetrics(_labels[c], support, precision, recall, f1));
        }
        var apPerClass = InLabelOrder(_truthByClass)
            .Select(kv =>
            {
                var list = _curveByClass.GetValueOrDefault(kv.Key) ?? [];
                var byScore = _curveByClassDetectorScore.GetValueOrDefault(kv.Key) ?? [];
                return new ClassAveragePrecision(kv.Key, kv.Value, list.Count, AveragePrecision(list, kv.Value), AveragePrecision(byScore, kv.Value));
            })
            .ToList();
        return new EvaluationReport(
            _images, _boxImages, _gt, _pred, _tp, Ratio(_tp, _pred), Ratio(_tp, _gt), _iou,
            Ratio(_classCorrect, _images), perClass, [.. _labels], matrix,
            Ratio(_ngCaught + _okPassed, _images), _ngCaught, _okRejected, _ngMissed, _okPassed,
            [.. InLabelOrder(_detectionByClass).Select(kv => new ClassDetectionMetrics(kv.Key, kv.Value.Images, kv.Value.Truth, kv.Value.Predicted, kv.Value.Matched))],
            _scoreFloor, AveragePrecision(_curve, _gt), apPerClass.Count == 0 ? 0 : apPerClass.Average(a => a.AveragePrecision), apPerClass)
        {
            Parts = _outcomes.Outcomes(_labels),
            RankedByClassScore = _classScores,
        };
    }

    /// <summary>Per-class entries in the report's class order (the model's classes first), then by name.</summary>
    private IEnumerable<KeyValuePair<string, T>> InLabelOrder<T>(Dictionary<string, T> byClass) =>
        byClass.OrderBy(kv => _labels.IndexOf(kv.Key) is int i and >= 0 ? i : int.MaxValue).ThenBy(kv => kv.Key, StringComparer.Ordinal);

    private int LabelIndex(string label)
    {
        int i = _labels.IndexOf(label);
        if (i >= 0) return i;
        _labels.Add(label);
        return _labels.Count - 1;
    }

    private static double Ratio(int a, int b) => b == 0 ? 0 : (double)a / b;
}
