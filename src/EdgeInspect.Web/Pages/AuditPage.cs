using System.Globalization;
using System.Text;

namespace EdgeInspect.Web.Pages;

/// <summary>The audit trail, newest first: mode changes and refusals, model changes, alarms, store events.</summary>
public static class AuditPage
{
    private const int Shown = 300;

    /// <summary>The newest <c>300</c> events.</summary>
    public static string Render(StationContext station, string? user)
    {
        var events = station.Store.AuditEvents().OrderByDescending(e => e.At).Take(Shown).ToList();
        var sb = new StringBuilder("<section><h3>Audit trail</h3><div style=\"overflow-x:auto\"><table id=\"audit\"><thead><tr><th>when (UTC)</th><th>what</th>")
            .Append("<th>who</th><th>from</th><th>change</th><th>why</th></tr></thead><tbody>");
        foreach (var e in events)
        {
            sb.Append("<tr><td>").Append(e.At.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)).Append("</td><td>").Append(Html.E(e.Kind))
                .Append("</td><td class=\"actor\">").Append(Html.E(e.Actor)).Append("</td><td>").Append(Html.E(e.Source)).Append("</td><td>")
                .Append(Html.E(e.From)).Append(" &rarr; ").Append(Html.E(e.To)).Append("</td><td>").Append(Html.E(e.Reason)).Append("</td></tr>");
        }
        sb.Append("</tbody></table></div><p class=\"muted\">Newest first; at most ").Append(Shown).Append(" events.</p></section>");
        return Html.Page("Audit", "/audit", sb.ToString(), user);
    }
}
