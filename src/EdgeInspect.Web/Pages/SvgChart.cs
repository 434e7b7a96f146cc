using System.Text;

namespace EdgeInspect.Web.Pages;

/// <summary>A line chart as inline SVG: no script, no library, readable on a phone.</summary>
public static class SvgChart
{
    private const int W = 400, H = 150, Left = 58, Bottom = 22, Top = 10, Font = 14;

    /// <summary>
    /// One chart of one or more series over the same time axis, <paramref name="series"/> as (label, colour, points);
    /// a missing value leaves a gap.
    /// </summary>
    public static string Render(string id, string title, DateTimeOffset from, DateTimeOffset to,
        IReadOnlyList<(string Label, string Color, IReadOnlyList<(DateTimeOffset At, double Value)> Points)> series)
    {
        var values = series.SelectMany(s => s.Points.Select(p => p.Value)).Where(double.IsFinite).ToList();
        var sb = new StringBuilder();
        sb.Append("<figure><figcaption>").Append(Html.E(title));
        foreach (var s in series) sb.Append(" <span style=\"color:").Append(s.Color).Append("\">&#9632; ").Append(Html.E(s.Label)).Append("</span>");
        sb.Append("</figcaption><svg id=\"").Append(Html.E(id)).Append("\" viewBox=\"0 0 ").Append(W).Append(' ').Append(H).Append("\" role=\"img\" aria-label=\"").Append(Html.E(title)).Append("\">");
        if (values.Count == 0)
        {
            sb.Append("<text x=\"").Append(W / 2).Append("\" y=\"").Append(H / 2).Append("\" text-anchor=\"middle\" fill=\"#888\">no data yet</text></svg></figure>");
            return sb.ToString();
        }
        double min = Math.Min(0, values.Min()), max = values.Max();
        if (max <= min) max = min + 1;
        double span = Math.Max(1, (to - from).TotalSeconds);
        double X(DateTimeOffset at) => Left + (W - Left - 4) * Math.Clamp((at - from).TotalSeconds / span, 0, 1);
        double Y(double v) => Top + (H - Top - Bottom) * (1 - (v - min) / (max - min));
        sb.Append("<line x1=\"").Append(Left).Append("\" y1=\"").Append(H - Bottom).Append("\" x2=\"").Append(W).Append("\" y2=\"").Append(H - Bottom).Append("\" stroke=\"#bbb\"/>");
        foreach (var v in new[] { min, max })
            sb.Append("<text x=\"").Append(Left - 4).Append("\" y=\"").Append(Html.N(Y(v) + 4, "0.0")).Append("\" text-anchor=\"end\" font-size=\"").Append(Font).Append("\" fill=\"#555\">").Append(Html.N(v, "0.##")).Append("</text>");
        sb.Append("<text x=\"").Append(Left).Append("\" y=\"").Append(H - 4).Append("\" font-size=\"").Append(Font).Append("\" fill=\"#555\">").Append(from.UtcDateTime.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture))
            .Append("</text><text x=\"").Append(W - 4).Append("\" y=\"").Append(H - 4).Append("\" text-anchor=\"end\" font-size=\"").Append(Font).Append("\" fill=\"#555\">")
            .Append(to.UtcDateTime.ToString("HH:mm", System.Globalization.CultureInfo.InvariantCulture)).Append(" UTC</text>");
        foreach (var s in series)
        {
            sb.Append("<polyline fill=\"none\" stroke-width=\"2\" stroke=\"").Append(s.Color).Append("\" points=\"");
            foreach (var p in s.Points.Where(p => double.IsFinite(p.Value)))
                sb.Append(Html.N(X(p.At), "0.0")).Append(',').Append(Html.N(Y(p.Value), "0.0")).Append(' ');
            sb.Append("\"/>");
        }
        sb.Append("</svg></figure>");
        return sb.ToString();
    }
}
