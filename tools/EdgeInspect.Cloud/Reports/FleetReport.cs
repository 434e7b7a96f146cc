using System.Globalization;
using System.Text.Json;
using Npgsql;

namespace EdgeInspect.Cloud.Reports;

/// <summary>
/// <c>report</c>: the fleet as the ingest's database sees it (<see cref="FleetQueries"/>), as text or as one JSON
/// object. The text shows one line per device (state, last seen, mode, active and candidate model, parts and NG rate
/// over an hour and a day, drift score, open alarms, shadow agreement), then the fleet's parts and NG rate per hour and
/// per day, agreement per model version and each version's rollout.
/// </summary>
public static class FleetReport
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static async Task<int> RunAsync(NpgsqlDataSource db, bool json, TextWriter output, int days = 7, CancellationToken ct = default)
    {
        var view = await FleetQueries.ReadAsync(db, days, ct);
        if (json) output.WriteLine(JsonSerializer.Serialize(view, Json));
        else Write(view, output);
        return 0;
    }

    /// <summary>The text form of <paramref name="view"/>.</summary>
    public static void Write(FleetView view, TextWriter output)
    {
        output.WriteLine($"fleet at {Time(view.At)} UTC");
        output.WriteLine($"{"device",-20} {"state",-8} {"last seen (UTC)",-19} {"mode",-8} {"active",-16} {"candidate",-16} {"parts 1h",8} {"NG 1h",7} {"parts 24h",9} {"NG 24h",7} {"drift",6}  alarms open; shadow agreement 24h (95 % CI)");
        foreach (var d in view.Devices)
        {
            var alarms = d.OpenAlarms.Count == 0 ? "no alarms" : string.Join(", ", d.OpenAlarms.Select(a => $"{a.Name} since {(a.Since is { } s ? Time(s) : "?")}"));
            var agreement = d.Agreement.Count == 0 ? "no paired parts" : string.Join("; ", d.Agreement.Select(Agreement));
            output.WriteLine(string.Create(Inv,
                $"{d.DeviceId,-20} {d.State ?? "-",-8} {(d.LastSeen is { } seen ? Time(seen) : "-"),-19} {d.Mode ?? "-",-8} {d.Active?.ToString() ?? "-",-16} {d.Candidate?.ToString() ?? "-",-16} {d.PartsHour,8} {Rate(d.NgHour, d.PartsHour),7} {d.PartsDay,9} {Rate(d.NgDay, d.PartsDay),7} {(d.Drift is { } dr ? dr.Latest.ToString("0.00", Inv) : "-"),6}  {alarms}; {agreement}"));
        }
        output.WriteLine($"{view.Devices.Count} devices, {view.Devices.Count(l => l.State == "online")} online, {view.Devices.Sum(d => d.OpenAlarms.Count)} alarms open");
        Periods(output, "parts and NG rate per hour (last 24 hours, UTC)", view.Hours, "yyyy-MM-dd HH:00");
        Periods(output, "parts and NG rate per day (UTC)", view.Days, "yyyy-MM-dd");
        output.WriteLine();
        output.WriteLine("shadow agreement with the human per model version (95 % Wilson interval)");
        if (view.AgreementByVersion.Count == 0) output.WriteLine("  no paired parts");
        foreach (var a in view.AgreementByVersion) output.WriteLine($"  {a.Model} as {a.Role}: {Counts(a)}");
        output.WriteLine();
        output.WriteLine("rollout per model version");
        if (view.Rollouts.Count == 0) output.WriteLine("  no model reported by any device");
        foreach (var r in view.Rollouts)
        {
            var states = RolloutStates.All.Where(s => r.Count(s) > 0)
                .Select(s => $"{s} {r.Count(s)} ({string.Join(", ", r.Devices.Where(d => d.State == s).Select(d => d.DeviceId))})");
            output.WriteLine($"  {r.Model}: {string.Join("; ", states)}");
        }
    }

    private static void Periods(TextWriter output, string title, IReadOnlyList<FleetView.Period> periods, string format)
    {
        output.WriteLine();
        output.WriteLine(title);
        if (periods.Count == 0) output.WriteLine("  no parts");
        foreach (var p in periods)
        {
            output.WriteLine(string.Create(Inv, $"  {p.Start.UtcDateTime.ToString(format, Inv),-16} {p.Parts,9} parts {p.Ng,8} NG {Rate(p.Ng, p.Parts),7}"));
        }
    }

    private static string Agreement(FleetView.Agreement a) => $"v{a.Model.Version}: {Counts(a)}";

    private static string Counts(FleetView.Agreement a) => string.Create(Inv, $"{a.Agreed}/{a.Paired} [{a.Lower:P1}, {a.Upper:P1}]");

    private static string Time(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", Inv);

    private static string Rate(long ng, long parts) => parts == 0 ? "-" : (ng / (double)parts).ToString("P1", Inv);
}
