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
        // Reversed first so that events stored in the same instant still read newest first (the sort is stable).
        var events = station.Store.AuditEvents().Reverse().OrderByDescending(e => e.At).Take(Shown).ToList();
        // One tbody per event, the reason on its own full-width row: readable on a phone's width.
        var sb = new StringBuilder("<section><h3>Audit trail</h3><div style=\"overflow-x:auto\"><table id=\"audit\"><thead><tr><th>when (UTC)</th><th>what</th>")
            .Append("<th>who</th><th>via</th><th>change</th></tr></thead>");
        foreach (var e in events)
        {
            sb.Append("<tbody class=\"event\"><tr><td>").Append(e.At.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)).Append("</td><td class=\"kind\">")
                .Append(Html.E(e.Kind)).Append("</td><td class=\"actor\">").Append(Html.E(e.Actor)).Append("</td><td>").Append(Html.E(e.Source)).Append("</td><td>")
                .Append(Html.E(e.From)).Append(" &rarr; ").Append(Html.E(e.To)).Append("</td></tr><tr><td colspan=\"5\" class=\"why muted\">")
                .Append(Html.E(e.Reason)).Append("</td></tr></tbody>");
        }
        sb.Append("</table></div><p class=\"muted\">Newest first; at most ").Append(Shown).Append(" events.</p></section>");
        return Html.Page("Audit", "/audit", sb.ToString(), user);
    }
}
