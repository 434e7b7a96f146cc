using System.Globalization;
using System.Text;
using System.Text.Json;

namespace EdgeInspect.Core.Shadow;

/// <summary>Text renderings of a <see cref="ShadowReport"/> for `edgeinspect shadow-report`.</summary>
public static class ShadowReportFormat
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>
    /// What a report of no pairs says instead of an agreement: 0 of 0 is no evidence either way, and "0.00 %" would read
    /// as a model that never agrees.
    /// </summary>
    public const string NoPairs = "no paired parts yet: agreement is measured on parts with both a model and a human verdict "
        + "(shadow, assist, or audit-sampled parts; a replayed folder pairs with HumanInspector:Kind \"labels\")";

    public static string Table(ShadowReport r)
    {
        ArgumentNullException.ThrowIfNull(r);
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(ci, $"paired parts: {r.PairedParts}");
        if (r.PairedParts == 0) return sb.Append(NoPairs).ToString();
        sb.AppendLine(ci, $"verdict agreement: {r.Agreement:P2} (Wilson 95% CI {r.AgreementLower:P2} .. {r.AgreementUpper:P2})");
        sb.AppendLine(ci, $"Cohen's kappa (classes): {r.Kappa:F3}");
        sb.AppendLine(ci, $"verdict (NG positive): TP {r.VerdictTruePositives}  FP {r.VerdictFalsePositives}  FN {r.VerdictFalseNegatives}  TN {r.VerdictTrueNegatives}");
        sb.AppendLine();
        sb.AppendLine("confusion (rows: human, columns: model)");
        int w = Math.Max(8, r.Classes.Count == 0 ? 8 : r.Classes.Max(c => c.Length) + 2);
        sb.Append(new string(' ', w));
        foreach (var c in r.Classes) sb.Append(c.PadLeft(w));
        sb.AppendLine();
        for (int i = 0; i < r.Classes.Count; i++)
        {
            sb.Append(r.Classes[i].PadRight(w));
            for (int j = 0; j < r.Classes.Count; j++) sb.Append(r.Confusion[i, j].ToString(ci).PadLeft(w));
            sb.AppendLine();
        }
        sb.AppendLine();
        sb.AppendLine("class".PadRight(w) + "support".PadLeft(9) + "precision".PadLeft(11) + "recall".PadLeft(9) + "F1".PadLeft(8));
        foreach (var c in r.PerClass)
            sb.AppendLine(ci, $"{c.ClassName.PadRight(w)}{c.Support,9}{c.Precision,11:F3}{c.Recall,9:F3}{c.F1,8:F3}");
        return sb.ToString().TrimEnd();
    }

    public static string Json(ShadowReport r)
    {
        var matrix = new long[r.Classes.Count][];
        for (int i = 0; i < matrix.Length; i++)
        {
            matrix[i] = new long[r.Classes.Count];
            for (int j = 0; j < matrix.Length; j++) matrix[i][j] = r.Confusion[i, j];
        }
        return JsonSerializer.Serialize(new
        {
            pairedParts = r.PairedParts,
            note = r.PairedParts == 0 ? NoPairs : null,
            agreement = r.PairedParts == 0 ? (double?)null : r.Agreement,
            agreementWilson95 = r.PairedParts == 0 ? null : new[] { r.AgreementLower, r.AgreementUpper },
            kappa = r.Kappa,
            verdict = new { tp = r.VerdictTruePositives, fp = r.VerdictFalsePositives, fn = r.VerdictFalseNegatives, tn = r.VerdictTrueNegatives },
            classes = r.Classes,
            confusion = matrix,
            perClass = r.PerClass.Select(c => new { name = c.ClassName, support = c.Support, predicted = c.Predicted, precision = c.Precision, recall = c.Recall, f1 = c.F1 }),
        }, Indented);
    }
}
