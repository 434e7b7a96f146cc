using System.Globalization;
using System.Text;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Geometry;

namespace EdgeInspect.Core.Evaluation;

/// <summary>A model's answer for one dataset image, as the evaluator needs it.</summary>
public sealed record Prediction(IReadOnlyList<(BoxF Box, float Score)> Boxes, string PartClass, Verdict Verdict);

/// <summary>Precision, recall and F1 of one class (image level: the part's class).</summary>
public sealed record ClassMetrics(string Class, int Support, double Precision, double Recall, double F1);

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
    int TrueNegativeOk)
{
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
        sb.AppendLine(ci, $"image-level class accuracy: {Pct(ClassAccuracy)}");
        int w = Math.Max(8, ConfusionLabels.Select(l => l.Length + 1).DefaultIfEmpty(0).Max());
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
/// image level by the confusion matrix).
/// </summary>
public sealed class EvaluationAccumulator
{
    private readonly List<string> _labels;
    private readonly Dictionary<(int Truth, int Predicted), int> _confusion = [];
    private readonly double _iou;
    private int _images, _boxImages, _gt, _pred, _tp, _classCorrect;
    private int _ngCaught, _ngMissed, _okRejected, _okPassed;

    /// <param name="classes">Known class names (the model's); others seen in the data are appended.</param>
    public EvaluationAccumulator(IEnumerable<string> classes, double iouThreshold = 0.5)
    {
        _labels = [.. classes];
        _iou = iouThreshold;
    }

    public void Add(LabelledImage truth, Prediction prediction)
    {
        _images++;
        if (truth.HasBoxes)
        {
            _boxImages++;
            _gt += truth.Boxes.Count;
            _pred += prediction.Boxes.Count;
            _tp += MatchBoxes(truth.Boxes, prediction.Boxes, _iou);
        }
        int t = LabelIndex(truth.PartClass), p = LabelIndex(prediction.PartClass);
        _confusion[(t, p)] = _confusion.GetValueOrDefault((t, p)) + 1;
        if (t == p) _classCorrect++;
        bool truthNg = truth.IsNg, predNg = prediction.Verdict == Verdict.Ng;
        if (truthNg && predNg) _ngCaught++;
        else if (truthNg) _ngMissed++;
        else if (predNg) _okRejected++;
        else _okPassed++;
    }

    /// <summary>Greedy VOC matching; returns the number of true positives.</summary>
    public static int MatchBoxes(IReadOnlyList<LabelledBox> truth, IReadOnlyList<(BoxF Box, float Score)> predicted, double iouThreshold = 0.5)
    {
        var used = new bool[truth.Count];
        int tp = 0;
        foreach (var (box, _) in predicted.OrderByDescending(p => p.Score))
        {
            int best = -1;
            double bestIou = iouThreshold;
            for (int i = 0; i < truth.Count; i++)
            {
                if (used[i]) continue;
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
                tp++;
            }
        }
        return tp;
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
        return new EvaluationReport(
            _images, _boxImages, _gt, _pred, _tp, Ratio(_tp, _pred), Ratio(_tp, _gt), _iou,
            Ratio(_classCorrect, _images), perClass, [.. _labels], matrix,
            Ratio(_ngCaught + _okPassed, _images), _ngCaught, _okRejected, _ngMissed, _okPassed);
    }

    private int LabelIndex(string label)
    {
        int i = _labels.IndexOf(label);
        if (i >= 0) return i;
        _labels.Add(label);
        return _labels.Count - 1;
    }

    private static double Ratio(int a, int b) => b == 0 ? 0 : (double)a / b;
}
