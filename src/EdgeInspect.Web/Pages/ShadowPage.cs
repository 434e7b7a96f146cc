using System.Text;
using EdgeInspect.Core.Shadow;

namespace EdgeInspect.Web.Pages;

/// <summary>The shadow report: model against human over every stored paired part (<see cref="ShadowStatistics"/>).</summary>
public static class ShadowPage
{
    /// <summary>How many of the latest disagreements the page lists.</summary>
    public const int RecentDisagreements = 20;

    /// <summary>
    /// Confusion matrix, per-class precision / recall / F1, agreement with its Wilson interval and kappa, and the most
    /// recent parts where model and human disagreed.
    /// </summary>
    public static string Render(StationContext station, string? user)
    {
        var stats = new ShadowStatistics();
        var recent = new Queue<Core.Domain.InspectionRecord>(RecentDisagreements);
        foreach (var record in station.Store.Records())
        {
            stats.Add(record);
            if (record.Agreement != false) continue;
            if (recent.Count == RecentDisagreements) recent.Dequeue();
            recent.Enqueue(record);
        }
        var r = stats.Report();
        var sb = new StringBuilder("<section><h3>Shadow report</h3>");
        if (r.PairedParts == 0)
        {
            sb.Append("<p>Paired parts: <strong id=\"shadow-paired\">0</strong>; <span id=\"shadow-agreement\">")
                .Append(Html.E(ShadowReportFormat.NoPairs)).Append("</span>.</p></section>");
            return Html.Page("Shadow report", "/shadow", sb.ToString(), user);
        }
        sb.Append("<p>Paired parts: <strong id=\"shadow-paired\">").Append(r.PairedParts).Append("</strong>; verdict agreement <strong id=\"shadow-agreement\">")
            .Append(Html.N(100 * r.Agreement, "0.00")).Append(" %</strong> (Wilson 95 % ").Append(Html.N(100 * r.AgreementLower, "0.00")).Append(" .. ")
            .Append(Html.N(100 * r.AgreementUpper, "0.00")).Append(" %); Cohen's kappa <strong id=\"shadow-kappa\">").Append(Html.N(r.Kappa, "0.000")).Append("</strong>.</p>");
        sb.Append("<p>Verdict, NG positive: TP ").Append(r.VerdictTruePositives).Append(", FP ").Append(r.VerdictFalsePositives).Append(", FN ")
            .Append(r.VerdictFalseNegatives).Append(", TN ").Append(r.VerdictTrueNegatives).Append(".</p></section>");
        sb.Append("<section><h3>Confusion (rows: human, columns: model)</h3><div style=\"overflow-x:auto\"><table id=\"confusion\"><thead><tr><th></th>");
        foreach (var c in r.Classes) sb.Append("<th class=\"n\">").Append(Html.E(c)).Append("</th>");
        sb.Append("</tr></thead><tbody>");
        for (int i = 0; i < r.Classes.Count; i++)
        {
            sb.Append("<tr><th>").Append(Html.E(r.Classes[i])).Append("</th>");
            for (int j = 0; j < r.Classes.Count; j++)
                sb.Append("<td class=\"n\"").Append(i == j ? " style=\"font-weight:600\"" : "").Append('>').Append(r.Confusion[i, j]).Append("</td>");
            sb.Append("</tr>");
        }
        sb.Append("</tbody></table></div></section><section><h3>Per class</h3><div style=\"overflow-x:auto\"><table id=\"per-class\"><thead><tr><th>class</th><th class=\"n\">support</th>")
            .Append("<th class=\"n\">precision</th><th class=\"n\">recall</th><th class=\"n\">F1</th></tr></thead><tbody>");
        foreach (var c in r.PerClass)
        {
            sb.Append("<tr><td>").Append(Html.E(c.ClassName)).Append("</td><td class=\"n\">").Append(c.Support).Append("</td><td class=\"n\">")
                .Append(Html.N(c.Precision, "0.000")).Append("</td><td class=\"n\">").Append(Html.N(c.Recall, "0.000")).Append("</td><td class=\"n\">")
                .Append(Html.N(c.F1, "0.000")).Append("</td></tr>");
        }
        sb.Append("</tbody></table></div></section>");
        AppendDisagreements(sb, recent);
        return Html.Page("Shadow report", "/shadow", sb.ToString(), user);
    }

    private static void AppendDisagreements(StringBuilder sb, IEnumerable<Core.Domain.InspectionRecord> recent)
    {
        sb.Append("<section><h3>Latest disagreements</h3><div style=\"overflow-x:auto\"><table id=\"disagreements\"><thead><tr><th>decided</th><th>part</th>")
            .Append("<th>human</th><th>model</th><th class=\"n\">confidence</th><th>model version</th></tr></thead><tbody>");
        int rows = 0;
        foreach (var r in recent.Reverse())
        {
            rows++;
            sb.Append("<tr><td>").Append(Html.E(r.DecidedAt.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture)))
                .Append("</td><td>").Append(Html.E(r.PartId ?? r.Sequence.ToString(System.Globalization.CultureInfo.InvariantCulture)))
                .Append("</td><td>").Append(Html.E($"{r.HumanVerdict} {r.HumanClass}")).Append("</td><td>").Append(Html.E($"{r.ModelVerdict} {r.ModelClass}"))
                .Append("</td><td class=\"n\">").Append(r.ModelConfidence is { } c ? Html.N(c, "0.00") : "").Append("</td><td>")
                .Append(Html.E(r.ModelVersion)).Append("</td></tr>");
        }
        if (rows == 0) sb.Append("<tr><td colspan=\"6\">no disagreement stored</td></tr>");
        // The store keeps records, not images: the part's frame cannot be shown here yet.
        sb.Append("</tbody></table></div><p class=\"muted\">Newest first. The store keeps no part images yet, so none are shown.</p></section>");
    }
}
