using System.Text;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Shadow;
using EdgeInspect.Station.Automation;

namespace EdgeInspect.Web.Pages;

/// <summary>The mode page: the current mode, the gate's evidence for each more automated mode, and the change form.</summary>
public static class ModePage
{
    /// <summary>
    /// The page; the change form only for a logged-in technician (<paramref name="user"/>), carrying
    /// <paramref name="csrfToken"/>; <paramref name="result"/> is the outcome of the change just asked for.
    /// </summary>
    public static string Render(StationContext station, string? user, string? csrfToken, ModeChangeResult? result = null, string? problem = null)
    {
        var modes = station.Modes;
        var current = modes.Current;
        var (paired, agreed) = modes.Evidence;
        var gate = station.Gate;
        var (lower, upper) = Wilson.Interval(agreed, paired);
        var sb = new StringBuilder();
        if (result is not null)
        {
            sb.Append("<section id=\"result\" class=\"").Append(result.Changed ? "done" : "refused").Append("\">")
                .Append(result.Changed ? "Changed " : "Refused: ").Append(Html.E(result.From.ToWire())).Append(" &rarr; ").Append(Html.E(result.To.ToWire()))
                .Append(": <span id=\"result-reason\">").Append(Html.E(result.Reason)).Append("</span></section>");
        }
        if (problem is not null) sb.Append("<section id=\"result\" class=\"refused\"><span id=\"result-reason\">").Append(Html.E(problem)).Append("</span></section>");
        sb.Append("<section><p>Current mode</p><p class=\"big\" id=\"current-mode\">").Append(current.ToWire()).Append("</p></section>");
        sb.Append("<section><h3>Gate evidence</h3><p>Paired parts (human and model on the same part): <strong id=\"paired\">").Append(paired)
            .Append("</strong>; agreement <strong id=\"agreement\">").Append(paired == 0 ? "-" : Html.N(100.0 * agreed / paired, "0.00") + " %")
            .Append("</strong>, Wilson 95 % interval ").Append(Html.N(100 * lower, "0.00")).Append(" % .. ").Append(Html.N(100 * upper, "0.00")).Append(" %.</p>");
        sb.Append("<table><thead><tr><th>mode</th><th>allowed</th><th>needs</th><th>what is missing</th></tr></thead><tbody>");
        foreach (var to in new[] { AutomationMode.Partial, AutomationMode.Full })
        {
            var decision = gate.Evaluate(to, paired, agreed);
            string missing = decision.Allowed ? "nothing" : Missing(paired, lower, gate.Options.MinPairedParts, gate.Options.MinAgreementLowerBound);
            sb.Append("<tr id=\"gate-").Append(to.ToWire()).Append("\"><td>").Append(to.ToWire()).Append("</td><td>").Append(decision.Allowed ? "yes" : "no")
                .Append("</td><td>").Append(gate.Options.MinPairedParts).Append(" paired parts, lower bound above ").Append(Html.N(100 * gate.Options.MinAgreementLowerBound, "0.##"))
                .Append(" %</td><td>").Append(Html.E(missing)).Append("</td></tr>");
        }
        sb.Append("</tbody></table><p class=\"muted\">Human, shadow and assist need no evidence.</p></section>");
        sb.Append("<section><h3>Change the mode</h3>");
        if (user is null)
        {
            sb.Append("<p id=\"login-needed\">Changing the mode needs a technician login. <a href=\"/login?returnUrl=%2Fmode\">Log in</a></p>");
        }
        else
        {
            sb.Append("<form id=\"mode-form\" method=\"post\" action=\"/mode\"><input type=\"hidden\" name=\"__csrf\" value=\"").Append(Html.E(csrfToken)).Append("\">");
            sb.Append("<label>to <select name=\"to\" id=\"to\">");
            foreach (var m in Enum.GetValues<AutomationMode>())
            {
                if (m != current) sb.Append("<option value=\"").Append(m.ToWire()).Append("\">").Append(m.ToWire()).Append("</option>");
            }
            sb.Append("</select></label><br><label>reason <input name=\"reason\" id=\"reason\" required maxlength=\"200\" size=\"30\"></label><br>");
            if (station.Options.AllowOverride) sb.Append("<label><input type=\"checkbox\" name=\"force\" value=\"true\"> force past the gate (audited)</label><br>");
            sb.Append("<button type=\"submit\" id=\"change\">Change mode</button></form>");
            sb.Append("<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"__csrf\" value=\"").Append(Html.E(csrfToken))
                .Append("\"><button type=\"submit\" id=\"logout\">Log out ").Append(Html.E(user)).Append("</button></form>");
        }
        sb.Append("</section>");
        return Html.Page("Mode", "/mode", sb.ToString(), user);
    }

    private static string Missing(long paired, double lower, int minPaired, double minLower)
    {
        var missing = new List<string>(2);
        if (paired < minPaired) missing.Add($"{minPaired - paired} more paired parts");
        if (lower <= minLower) missing.Add($"agreement lower bound {lower:P2} must rise above {minLower:P2}");
        return string.Join("; ", missing);
    }
}
