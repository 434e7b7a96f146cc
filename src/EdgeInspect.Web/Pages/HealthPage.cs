using System.Text;
using System.Text.Json.Nodes;
using EdgeInspect.Core.Telemetry;

namespace EdgeInspect.Web.Pages;

/// <summary>Health: telemetry charts over the last hours, open alarms, store use against its budget, uplink, model slots.</summary>
public static class HealthPage
{
    /// <summary>The page over the stored telemetry snapshots of the last <see cref="WebOptions.HealthHours"/> hours.</summary>
    public static string Render(StationContext station, string? user)
    {
        var to = station.Time.GetUtcNow();
        var from = to.AddHours(-station.Options.HealthHours);
        var snaps = station.Snapshots(from);
        // A station up for less than the window is charted from its first snapshot, so a fresh start is readable.
        if (snaps.Count > 1 && snaps[0].At > from) from = snaps[0].At;
        var sb = new StringBuilder("<section><h3>Last ").Append(Html.N(station.Options.HealthHours)).Append(" hours</h3>");
        sb.Append(SvgChart.Render("chart-latency", "latency of a part (ms)", from, to,
            [("p50", "#1565c0", Series(snaps, "latency.total.p50")), ("p95", "#c62828", Series(snaps, "latency.total.p95"))]));
        sb.Append(SvgChart.Render("chart-rate", "parts per minute", from, to, [("parts/min", "#2e7d32", Series(snaps, "partRate", 60))]));
        sb.Append(SvgChart.Render("chart-drift", "input drift score", from, to, [("drift", "#6a1b9a", Series(snaps, "driftScore"))]));
        sb.Append(SvgChart.Render("chart-temperature", "temperature (°C)", from, to, [("temperature", "#ef6c00", Series(snaps, "temperatureC"))]));
        sb.Append("<p class=\"muted\">").Append(snaps.Count).Append(" telemetry snapshots.</p></section>");

        var alarms = station.Telemetry?.ActiveAlarms.Order(StringComparer.Ordinal).ToList() ?? [];
        sb.Append("<section><h3>Open alarms</h3>");
        if (alarms.Count == 0) sb.Append("<p id=\"alarms\">none</p>");
        else
        {
            sb.Append("<ul id=\"alarms\">");
            foreach (var a in alarms) sb.Append("<li class=\"ng\">").Append(Html.E(a)).Append("</li>");
            sb.Append("</ul>");
        }
        sb.Append("</section><section><h3>Store and uplink</h3><table>");
        if (station.LiteDb is { } store)
        {
            var s = store.Statistics();
            string use = s.BudgetBytes > 0 ? $"{Mb(s.StoredBytes)} of {Mb(s.BudgetBytes)} ({Html.N(100.0 * s.StoredBytes / s.BudgetBytes, "0.0")} %)" : $"{Mb(s.StoredBytes)} (no budget)";
            Row(sb, "store use", use, "store-use");
            Row(sb, "records", s.Records.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Row(sb, "evictions", s.Evictions.Count == 0 ? "none" : string.Join(", ", s.Evictions.Select(kv => $"{kv.Key} {kv.Value}")));
            Row(sb, "waiting for the uplink", s.PendingUplink.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        Row(sb, "uplink", station.Uplink is { } u ? (u.IsConnected ? "connected" : "disconnected (records buffer in the store)") : "not configured (records buffer in the store)", "uplink");
        sb.Append("</table></section><section><h3>Model</h3><table>");
        var model = station.Engine.Inspectors.Current;
        Row(sb, "active", model is null ? "none" : $"{model.ModelName} {model.ModelVersion}", "model-active");
        if (station.Fleet?.Status() is { } fleet)
        {
            Row(sb, "state", fleet["modelState"]?.ToString());
            foreach (var slot in new[] { "active", "candidate", "previous" }) Row(sb, $"slot ({slot})", Slot(fleet[slot]));
            // The candidate's three-way shadow (human, active, candidate on the same parts) while one is on trial.
            if (fleet["shadow"] is { } shadow) Row(sb, "candidate three-way shadow", shadow.ToJsonString(), "candidate-shadow");
            if (fleet["watch"] is { } watch) Row(sb, "promoted model watch", watch.ToJsonString(), "model-watch");
        }
        sb.Append("</table></section>");
        return Html.Page("Health", "/health", sb.ToString(), user);
    }

    private static IReadOnlyList<(DateTimeOffset, double)> Series(IReadOnlyList<TelemetrySnapshot> snaps, string metric, double scale = 1) =>
        [.. snaps.Select(s => (s.At, s.Metrics().TryGetValue(metric, out var v) ? v * scale : double.NaN))];

    private static string Mb(long bytes) => Html.N(bytes / 1048576.0, "0.0") + " MiB";

    private static string Slot(JsonNode? node) => node is null ? "none" : node.ToJsonString();

    private static void Row(StringBuilder sb, string label, string? value, string? id = null)
    {
        sb.Append("<tr><th>").Append(Html.E(label)).Append("</th><td");
        if (id is not null) sb.Append(" id=\"").Append(id).Append('"');
        sb.Append('>').Append(Html.E(value)).Append("</td></tr>");
    }
}
