using System.Text.Json;
using EdgeInspect.Core.Domain;
using EdgeInspect.Web.Metrics;

namespace EdgeInspect.Web.Live;

/// <summary>What the live page's server-sent event carries for one frame (JSON, camelCase).</summary>
public static class LivePayload
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The record's verdict, who decided it, latency and drawn regions as JSON.</summary>
    public static string Of(InspectionRecord r) => JsonSerializer.Serialize(new
    {
        seq = r.Sequence,
        partId = r.PartId,
        verdict = MetricsExporter.Wire(r.Verdict),
        source = MetricsExporter.Wire(r.VerdictSource),
        mode = r.Mode.ToWire(),
        latencyMs = Math.Round(r.LatencyMs.GetValueOrDefault("total"), 2),
        model = r.ModelName is null ? null : $"{r.ModelName} {r.ModelVersion}",
        modelVerdict = r.ModelVerdict is { } mv ? MetricsExporter.Wire(mv) : null,
        humanVerdict = r.HumanVerdict is { } hv ? MetricsExporter.Wire(hv) : null,
        confidence = r.ModelConfidence,
        failReason = r.FailReason,
        regions = Drawn(r).Select(g => new
        {
            x1 = g.Box.X1, y1 = g.Box.Y1, x2 = g.Box.X2, y2 = g.Box.Y2,
            cls = g.ClassName ?? "region",
            score = g.ClassName is null ? g.Score : g.ClassConfidence,
        }),
    }, Json);

    /// <summary>The regions drawn as boxes (a whole-frame classification has none).</summary>
    public static IEnumerable<Region> Drawn(InspectionRecord r) => r.Regions.Where(g => !g.WholeFrame);
}
