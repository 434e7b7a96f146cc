using System.Globalization;
using System.Text.Json;
using EdgeInspect.Core.Shadow;
using Npgsql;

namespace EdgeInspect.Cloud.Reports;

/// <summary>
/// <c>report</c>: the fleet as the ingest's database sees it, one line per device: last seen and online (its latest
/// birth / death), mode and active model from its status, parts and NG rate over the last hour and day, the model
/// versions its records of the day name, and shadow agreement (model vs human verdict) per model version with its
/// Wilson 95 % interval.
/// </summary>
public static class FleetReport
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>One device's line.</summary>
    public sealed record DeviceLine(string DeviceId, string? State, DateTimeOffset? LastSeen, string? Mode, string? ActiveModel, string? ActiveModelVersion,
        long PartsHour, long NgHour, long PartsDay, long NgDay, IReadOnlyList<AgreementLine> Agreement);

    /// <summary>Shadow agreement of one model version on one device over the day.</summary>
    public sealed record AgreementLine(string? ModelVersion, long Paired, long Agreed, double Lower, double Upper);

    public static async Task<int> RunAsync(NpgsqlDataSource db, bool json, TextWriter output, CancellationToken ct = default)
    {
        var lines = await ReadAsync(db, ct);
        if (json)
        {
            output.WriteLine(JsonSerializer.Serialize(lines, Json));
            return 0;
        }
        output.WriteLine($"{"device",-20} {"state",-8} {"last seen (UTC)",-20} {"mode",-8} {"model",-20} {"parts 1h",9} {"NG 1h",7} {"parts 24h",10} {"NG 24h",7}  shadow agreement 24h (95 % CI)");
        foreach (var d in lines)
        {
            var agreement = d.Agreement.Count == 0 ? "-" : string.Join("; ", d.Agreement.Select(a =>
                string.Create(CultureInfo.InvariantCulture, $"v{a.ModelVersion}: {a.Agreed}/{a.Paired} [{a.Lower:P1}, {a.Upper:P1}]")));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{d.DeviceId,-20} {d.State ?? "-",-8} {d.LastSeen?.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) ?? "-",-20} {d.Mode ?? "-",-8} {(d.ActiveModel is null ? "-" : d.ActiveModel + " " + d.ActiveModelVersion),-20} {d.PartsHour,9} {Rate(d.NgHour, d.PartsHour),7} {d.PartsDay,10} {Rate(d.NgDay, d.PartsDay),7}  {agreement}"));
        }
        output.WriteLine($"{lines.Count} devices, {lines.Count(l => l.State == "online")} online");
        return 0;
    }

    private static string Rate(long ng, long parts) => parts == 0 ? "-" : (ng / (double)parts).ToString("P1", CultureInfo.InvariantCulture);

    /// <summary>Reads the report's lines, ordered by device.</summary>
    public static async Task<List<DeviceLine>> ReadAsync(NpgsqlDataSource db, CancellationToken ct = default)
    {
        var agreement = new Dictionary<string, List<AgreementLine>>();
        await using (var cmd = db.CreateCommand(
            """
            SELECT device_id, model_version, count(*), count(*) FILTER (WHERE model_verdict = human_verdict)
            FROM records WHERE captured_at > now() - interval '1 day' AND model_verdict IS NOT NULL AND human_verdict IS NOT NULL
            GROUP BY device_id, model_version ORDER BY device_id, model_version
            """))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
            {
                var (n, k) = (r.GetInt64(2), r.GetInt64(3));
                var (lo, hi) = Wilson.Interval(k, n);
                var device = r.GetString(0);
                if (!agreement.TryGetValue(device, out var list)) agreement[device] = list = [];
                list.Add(new AgreementLine(r.IsDBNull(1) ? null : r.GetString(1), n, k, lo, hi));
            }
        }
        var lines = new List<DeviceLine>();
        await using (var cmd = db.CreateCommand(
            """
            WITH r AS (
              SELECT device_id,
                     count(*) FILTER (WHERE captured_at > now() - interval '1 hour') AS parts_hour,
                     count(*) FILTER (WHERE captured_at > now() - interval '1 hour' AND verdict = 'ng') AS ng_hour,
                     count(*) AS parts_day,
                     count(*) FILTER (WHERE verdict = 'ng') AS ng_day,
                     max(received_at) AS last_record
              FROM records WHERE captured_at > now() - interval '1 day' GROUP BY device_id)
            SELECT coalesce(s.device_id, r.device_id), s.state, greatest(s.received_at, r.last_record), s.mode, s.active_model, s.active_model_version,
                   coalesce(r.parts_hour, 0), coalesce(r.ng_hour, 0), coalesce(r.parts_day, 0), coalesce(r.ng_day, 0)
            FROM device_status s FULL JOIN r ON r.device_id = s.device_id
            ORDER BY 1
            """))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
            {
                string? S(int i) => r.IsDBNull(i) ? null : r.GetString(i);
                var device = r.GetString(0);
                lines.Add(new DeviceLine(device, S(1), r.IsDBNull(2) ? null : r.GetFieldValue<DateTimeOffset>(2), S(3), S(4), S(5),
                    r.GetInt64(6), r.GetInt64(7), r.GetInt64(8), r.GetInt64(9), agreement.GetValueOrDefault(device) ?? []));
            }
        }
        return lines;
    }
}
