using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Shadow;

namespace EdgeInspect.Web.Metrics;

/// <summary>The station's state as Prometheus metrics (<c>GET /metrics</c>), read when scraped.</summary>
public static class MetricsExporter
{
    /// <summary>Every metric family in the text format.</summary>
    public static string Render(StationContext station)
    {
        var p = new PrometheusText();
        var m = station.Metrics;
        p.Family("edgeinspect_parts_total", "counter", "Parts stored since start, by verdict and by who decided it.");
        foreach (var verdict in Enum.GetValues<Verdict>())
        {
            foreach (var source in Enum.GetValues<VerdictSource>())
                p.Sample("edgeinspect_parts_total", m.Parts(verdict, source), ("verdict", Wire(verdict)), ("source", Wire(source)));
        }
        var counters = station.Engine.Counters;
        p.Family("edgeinspect_frames_dropped_total", "counter", "Free-running camera frames dropped because the station was behind.")
            .Sample("edgeinspect_frames_dropped_total", counters.FramesDropped);
        p.Family("edgeinspect_rejects_total", "counter", "Reject outputs fired.").Sample("edgeinspect_rejects_total", counters.RejectsFired);
        p.Family("edgeinspect_stage_latency_seconds", "histogram", "Time per pipeline stage of one part (total = capture to verdict).");
        foreach (var (stage, histogram) in m.Stages) p.Histogram("edgeinspect_stage_latency_seconds", histogram, ("stage", stage));

        var mode = station.Modes.Current;
        p.Family("edgeinspect_mode", "gauge", "The station's degree of automation (1 for the current mode).");
        foreach (var each in Enum.GetValues<AutomationMode>()) p.Sample("edgeinspect_mode", each == mode ? 1 : 0, ("mode", each.ToWire()));
        var (paired, agreed) = station.Modes.Evidence;
        var (lower, upper) = Wilson.Interval(agreed, paired);
        p.Family("edgeinspect_shadow_paired_parts", "gauge", "Parts with both a human and a model verdict (the gate's evidence).")
            .Sample("edgeinspect_shadow_paired_parts", paired);
        p.Family("edgeinspect_shadow_agreement_ratio", "gauge", "Fraction of paired parts where model and human agree.")
            .Sample("edgeinspect_shadow_agreement_ratio", paired == 0 ? 0 : (double)agreed / paired);
        p.Family("edgeinspect_shadow_agreement_wilson_lower_ratio", "gauge", "Wilson 95% lower bound of the agreement.")
            .Sample("edgeinspect_shadow_agreement_wilson_lower_ratio", lower);
        p.Family("edgeinspect_shadow_agreement_wilson_upper_ratio", "gauge", "Wilson 95% upper bound of the agreement.")
            .Sample("edgeinspect_shadow_agreement_wilson_upper_ratio", upper);

        var now = station.Time.GetUtcNow();
        // The newest snapshot of the last quarter hour: enough for any usual interval, little to read per scrape.
        var recent = station.Snapshots(now.AddMinutes(-15));
        var latest = recent.Count == 0 ? null : recent[^1];
        if (latest?.Input.DriftScore is { } drift)
            p.Family("edgeinspect_input_drift_score", "gauge", "Input drift score of the newest telemetry snapshot.").Sample("edgeinspect_input_drift_score", drift);
        if (latest?.Process.TemperatureC is { } temperature)
            p.Family("edgeinspect_temperature_celsius", "gauge", "Hottest thermal zone at the newest telemetry snapshot.").Sample("edgeinspect_temperature_celsius", temperature);
        if (station.Telemetry is { } telemetry)
            p.Family("edgeinspect_alarms_active", "gauge", "Telemetry alarms raised and not cleared.").Sample("edgeinspect_alarms_active", telemetry.ActiveAlarms.Count);

        if (station.LiteDb is { } store)
        {
            var s = store.Statistics();
            p.Family("edgeinspect_store_records", "gauge", "Records in the local store.").Sample("edgeinspect_store_records", s.Records);
            p.Family("edgeinspect_store_used_bytes", "gauge", "Bytes the stored records count against the budget.").Sample("edgeinspect_store_used_bytes", s.StoredBytes);
            p.Family("edgeinspect_store_budget_bytes", "gauge", "The store's disk budget (0 = none).").Sample("edgeinspect_store_budget_bytes", s.BudgetBytes);
            p.Family("edgeinspect_store_evictions_total", "counter", "Records evicted by the disk budget, by reason, since the store was created.");
            foreach (var (reason, n) in s.Evictions.OrderBy(kv => kv.Key, StringComparer.Ordinal)) p.Sample("edgeinspect_store_evictions_total", n, ("reason", reason));
            p.Family("edgeinspect_uplink_pending_records", "gauge", "Records in the outbox not yet delivered to the cloud.").Sample("edgeinspect_uplink_pending_records", s.PendingUplink);
        }
        var uplink = station.Uplink;
        p.Family("edgeinspect_uplink_connected", "gauge", "1 while the broker connection is up; 0 when down or not configured.")
            .Sample("edgeinspect_uplink_connected", uplink?.IsConnected == true ? 1 : 0);
        var model = station.Engine.Inspectors.Current;
        p.Family("edgeinspect_model_info", "gauge", "The active model (1), by name and version.");
        if (model is not null) p.Sample("edgeinspect_model_info", 1, ("name", model.ModelName), ("version", model.ModelVersion));
        return p.ToString();
    }

    /// <summary>A verdict as a label value.</summary>
    public static string Wire(Verdict verdict) => verdict == Verdict.Ok ? "ok" : "ng";

    /// <summary>A verdict source as a label value.</summary>
    public static string Wire(VerdictSource source) => source switch
    {
        VerdictSource.Model => "model",
        VerdictSource.Human => "human",
        _ => "failsafe",
    };
}
