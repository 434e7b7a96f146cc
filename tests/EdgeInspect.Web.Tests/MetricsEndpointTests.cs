using EdgeInspect.Core.Storage;
using EdgeInspect.Station.Pipeline;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace EdgeInspect.Web.Tests;

/// <summary>/metrics, /healthz and /readyz over HTTP against a running station.</summary>
[Collection(StationCollection.Name)]
public sealed class MetricsEndpointTests(WebStation station)
{
    private static async Task<string> GetAsync(HttpClient http, string path)
    {
        using var response = await http.GetAsync(new Uri(path, UriKind.Relative));
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    private HttpClient Client() => new() { BaseAddress = new Uri(station.BaseUrl) };

    private static double Parts(Dictionary<string, PromFamily> families) => families["edgeinspect_parts_total"].Samples.Sum(s => s.Value);

    [Fact]
    public async Task GetMetrics_RunningStation_ParsesStrictlyAndCountersMoveWithParts()
    {
        using var http = Client();
        var engine = station.Services.GetRequiredService<StationEngine>();
        for (int i = 0; i < 200 && engine.Counters.PartsInspected < 3; i++) await Task.Delay(50);

        using var response = await http.GetAsync(new Uri("/metrics", UriKind.Relative));
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        var first = PrometheusTextParser.Parse(await response.Content.ReadAsStringAsync());
        long before = engine.Counters.PartsInspected;
        for (int i = 0; i < 200 && engine.Counters.PartsInspected < before + 5; i++) await Task.Delay(50);
        var second = PrometheusTextParser.Parse(await GetAsync(http, "/metrics"));

        Assert.Equal("counter", first["edgeinspect_parts_total"].Type);
        Assert.True(Parts(second) >= Parts(first) + 5, $"parts_total moved from {Parts(first)} to {Parts(second)}");
        Assert.Contains(second["edgeinspect_parts_total"].Samples, s => s.Labels["verdict"] is "ok" or "ng" && s.Labels["source"] == "human" && s.Value > 0);
        var total = second["edgeinspect_stage_latency_seconds"];
        Assert.Equal("histogram", total.Type);
        var count = total.Samples.Single(s => s.Name == "edgeinspect_stage_latency_seconds_count" && s.Labels["stage"] == "total").Value;
        Assert.True(count >= Parts(first) + 5, $"latency histogram count {count}");
        foreach (var name in new[] { "edgeinspect_frames_dropped_total", "edgeinspect_shadow_agreement_ratio", "edgeinspect_shadow_paired_parts",
            "edgeinspect_store_used_bytes", "edgeinspect_store_budget_bytes", "edgeinspect_uplink_connected", "edgeinspect_uplink_pending_records", "edgeinspect_mode" })
            Assert.True(second.ContainsKey(name), $"{name} missing");
        Assert.Equal(1, second["edgeinspect_mode"].Samples.Sum(s => s.Value));
        var stored = station.Services.GetRequiredService<IInspectionStore>().Records().LongCount();
        Assert.Equal(stored, second["edgeinspect_store_records"].Samples.Single().Value, 10.0); // parts keep arriving between the two reads
    }

    [Fact]
    public void Parse_MalformedExposition_Refused()
    {
        Assert.Throws<FormatException>(() => PrometheusTextParser.Parse("a_total 1\n")); // no TYPE
        Assert.Throws<FormatException>(() => PrometheusTextParser.Parse("# TYPE a_total counter\na_total{x=\"\\q\"} 1\n")); // bad escape
        Assert.Throws<FormatException>(() => PrometheusTextParser.Parse("# TYPE a counter\na 1\n")); // counter without _total
        Assert.Throws<FormatException>(() => PrometheusTextParser.Parse("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n"));
        Assert.Throws<FormatException>(() => PrometheusTextParser.Parse("# TYPE g gauge\ng 1")); // no final newline
    }

    [Fact]
    public async Task GetHealthzAndReadyz_PartsFlowing_BothOk()
    {
        using var http = Client();
        Assert.Equal("ok\n", await GetAsync(http, "/healthz"));
        string ready = "";
        for (int i = 0; i < 100; i++)
        {
            using var r = await http.GetAsync(new Uri("/readyz", UriKind.Relative));
            ready = await r.Content.ReadAsStringAsync();
            if (r.IsSuccessStatusCode) break;
            await Task.Delay(100);
        }
        Assert.Equal("ready\n", ready);
    }
}
