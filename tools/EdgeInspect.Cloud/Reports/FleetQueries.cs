using EdgeInspect.Core.Shadow;
using Npgsql;

namespace EdgeInspect.Cloud.Reports;

/// <summary>
/// Reads <see cref="FleetView"/> from the ingest's tables. Each figure comes from what the devices already publish:
/// status (birth / death, retained) for state, mode and models; records for parts, NG and agreement; telemetry for the
/// drift score; events for alarms (<c>alarm.raised</c> / <c>alarm.cleared</c>) and the rollout (fleet events).
/// Hours and days are UTC buckets of the records' capture time.
/// </summary>
public static class FleetQueries
{
    /// <summary>The event kinds the rollout is replayed from.</summary>
    private static readonly string[] RolloutKinds = ["package-installed", "model-promoted", "model-rolled-back", "model-auto-rollback", "candidate-rejected"];

    /// <param name="days">Daily buckets and the per-version agreement cover this many days (today included).</param>
    public static async Task<FleetView> ReadAsync(NpgsqlDataSource db, int days = 7, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(days, 1);
        await using var conn = await db.OpenConnectionAsync(ct);
        // One snapshot for every query: the figures add up even while the ingest writes.
        await using var tx = await conn.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, ct);
        var at = await ScalarAsync<DateTime>(conn, tx, "SELECT now()", ct);
        var hours = await PeriodsAsync(conn, tx, "hour", "date_trunc('hour', now(), 'UTC') - interval '23 hours'", days, ct);
        var daily = await PeriodsAsync(conn, tx, "day", "date_trunc('day', now(), 'UTC') - (@days - 1) * interval '1 day'", days, ct);
        var agreementByDevice = await AgreementByDeviceAsync(conn, tx, ct);
        var alarms = await OpenAlarmsAsync(conn, tx, ct);
        var drift = await DriftAsync(conn, tx, ct);
        var rollout = new RolloutTracker();
        await ReplayFleetEventsAsync(conn, tx, rollout, ct);
        var devices = new List<FleetView.Device>();
        await using (var cmd = new NpgsqlCommand(
            """
            WITH r AS (
              SELECT device_id,
                     count(*) FILTER (WHERE captured_at > now() - interval '1 hour') AS parts_hour,
                     count(*) FILTER (WHERE captured_at > now() - interval '1 hour' AND verdict = 'ng') AS ng_hour,
                     count(*) AS parts_day,
                     count(*) FILTER (WHERE verdict = 'ng') AS ng_day,
                     max(received_at) AS last_record
              FROM records WHERE captured_at > now() - interval '1 day' GROUP BY device_id)
            SELECT coalesce(s.device_id, r.device_id), s.state, greatest(s.received_at, r.last_record), s.mode,
                   coalesce(s.body #>> '{fleet,active,model}', s.active_model), coalesce(s.body #>> '{fleet,active,version}', s.active_model_version),
                   s.body #>> '{fleet,candidate,model}', s.body #>> '{fleet,candidate,version}',
                   coalesce(r.parts_hour, 0), coalesce(r.ng_hour, 0), coalesce(r.parts_day, 0), coalesce(r.ng_day, 0)
            FROM device_status s FULL JOIN r ON r.device_id = s.device_id
            ORDER BY 1
            """, conn, tx))
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
            {
                string? S(int i) => r.IsDBNull(i) ? null : r.GetString(i);
                var device = r.GetString(0);
                var active = S(4) is null && S(5) is null ? null : new FleetView.ModelRef(S(4), S(5));
                var candidate = S(6) is null && S(7) is null ? null : new FleetView.ModelRef(S(6), S(7));
                if (S(1) is not null) rollout.Status(device, active, candidate);
                devices.Add(new FleetView.Device(device, S(1), r.IsDBNull(2) ? null : r.GetFieldValue<DateTimeOffset>(2), S(3), active, candidate,
                    r.GetInt64(8), r.GetInt64(9), r.GetInt64(10), r.GetInt64(11), alarms.GetValueOrDefault(device) ?? [], drift.GetValueOrDefault(device),
                    agreementByDevice.GetValueOrDefault(device) ?? [], hours.GetValueOrDefault(device) ?? [], daily.GetValueOrDefault(device) ?? []));
            }
        }
        // A device with no status and no records today but with open alarms or telemetry still gets its line.
        foreach (var device in alarms.Keys.Concat(drift.Keys).Distinct().Where(k => devices.All(d => d.DeviceId != k)).Order(StringComparer.Ordinal))
        {
            devices.Add(new FleetView.Device(device, null, null, null, null, null, 0, 0, 0, 0, alarms.GetValueOrDefault(device) ?? [],
                drift.GetValueOrDefault(device), agreementByDevice.GetValueOrDefault(device) ?? [], hours.GetValueOrDefault(device) ?? [],
                daily.GetValueOrDefault(device) ?? []));
        }
        devices.Sort((a, b) => string.CompareOrdinal(a.DeviceId, b.DeviceId));
        var agreementByVersion = await AgreementByVersionAsync(conn, tx, days, ct);
        await tx.CommitAsync(ct);
        return new FleetView(new DateTimeOffset(at, TimeSpan.Zero), devices, Fleet(hours), Fleet(daily), agreementByVersion, rollout.Rollouts());
    }

    /// <summary>Parts and NG per device per bucket since <paramref name="from"/> (an SQL expression).</summary>
    private static async Task<Dictionary<string, List<FleetView.Period>>> PeriodsAsync(NpgsqlConnection conn, NpgsqlTransaction tx, string unit, string from,
        int days, CancellationToken ct)
    {
        var byDevice = new Dictionary<string, List<FleetView.Period>>();
        await using var cmd = new NpgsqlCommand(
            $"""
            SELECT device_id, date_trunc('{unit}', captured_at, 'UTC') AS b, count(*), count(*) FILTER (WHERE verdict = 'ng')
            FROM records WHERE captured_at >= {from}
            GROUP BY device_id, b ORDER BY device_id, b
            """, conn, tx);
        cmd.Parameters.AddWithValue("days", days);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            var device = r.GetString(0);
            if (!byDevice.TryGetValue(device, out var list)) byDevice[device] = list = [];
            list.Add(new FleetView.Period(r.GetFieldValue<DateTimeOffset>(1), r.GetInt64(2), r.GetInt64(3)));
        }
        return byDevice;
    }

    private static List<FleetView.Period> Fleet(Dictionary<string, List<FleetView.Period>> byDevice) =>
        [.. byDevice.Values.SelectMany(l => l).GroupBy(p => p.Start).OrderBy(g => g.Key)
            .Select(g => new FleetView.Period(g.Key, g.Sum(p => p.Parts), g.Sum(p => p.Ng)))];

    /// <summary>Active-model agreement per device and model version over the last 24 hours.</summary>
    private static async Task<Dictionary<string, List<FleetView.Agreement>>> AgreementByDeviceAsync(NpgsqlConnection conn, NpgsqlTransaction tx, CancellationToken ct)
    {
        var byDevice = new Dictionary<string, List<FleetView.Agreement>>();
        await using var cmd = new NpgsqlCommand(
            """
            SELECT device_id, model_name, model_version, count(*), count(*) FILTER (WHERE model_verdict = human_verdict)
            FROM records WHERE captured_at > now() - interval '1 day' AND model_verdict IS NOT NULL AND human_verdict IS NOT NULL
            GROUP BY device_id, model_name, model_version ORDER BY device_id, model_name, model_version
            """, conn, tx);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            var device = r.GetString(0);
            if (!byDevice.TryGetValue(device, out var list)) byDevice[device] = list = [];
            list.Add(Agreement(r.IsDBNull(1) ? null : r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2), "active", r.GetInt64(3), r.GetInt64(4)));
        }
        return byDevice;
    }

    /// <summary>
    /// Agreement per model version across the fleet over <paramref name="days"/>: as the active model (its verdict
    /// against the human's) and as a candidate in three-way shadow (the record's <c>candidateVerdict</c> against the
    /// human's; the record names only the candidate's version).
    /// </summary>
    private static async Task<List<FleetView.Agreement>> AgreementByVersionAsync(NpgsqlConnection conn, NpgsqlTransaction tx, int days, CancellationToken ct)
    {
        var list = new List<FleetView.Agreement>();
        await using var cmd = new NpgsqlCommand(
            """
            SELECT model_name, model_version, 'active', count(*), count(*) FILTER (WHERE model_verdict = human_verdict)
            FROM records WHERE captured_at >= date_trunc('day', now(), 'UTC') - (@days - 1) * interval '1 day'
              AND model_verdict IS NOT NULL AND human_verdict IS NOT NULL
            GROUP BY model_name, model_version
            UNION ALL
            SELECT NULL, body ->> 'candidateModelVersion', 'candidate', count(*), count(*) FILTER (WHERE body ->> 'candidateVerdict' = human_verdict)
            FROM records WHERE captured_at >= date_trunc('day', now(), 'UTC') - (@days - 1) * interval '1 day'
              AND body ->> 'candidateVerdict' IS NOT NULL AND human_verdict IS NOT NULL
            GROUP BY body ->> 'candidateModelVersion'
            ORDER BY 3, 1, 2
            """, conn, tx);
        cmd.Parameters.AddWithValue("days", days);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            list.Add(Agreement(r.IsDBNull(0) ? null : r.GetString(0), r.IsDBNull(1) ? null : r.GetString(1), r.GetString(2), r.GetInt64(3), r.GetInt64(4)));
        }
        return list;
    }

    private static FleetView.Agreement Agreement(string? name, string? version, string role, long paired, long agreed)
    {
        var (lo, hi) = Wilson.Interval(agreed, paired);
        return new FleetView.Agreement(new FleetView.ModelRef(name, version), role, paired, agreed, lo, hi);
    }

    /// <summary>
    /// Per device, each alarm whose latest transition (by the device's clock, then arrival) is <c>alarm.raised</c>. The
    /// alarm's name is the event's <c>to</c>, the value that raised it its <c>from</c> (TelemetryPublisher).
    /// </summary>
    private static async Task<Dictionary<string, List<FleetView.Alarm>>> OpenAlarmsAsync(NpgsqlConnection conn, NpgsqlTransaction tx, CancellationToken ct)
    {
        var byDevice = new Dictionary<string, List<FleetView.Alarm>>();
        await using var cmd = new NpgsqlCommand(
            """
            SELECT device_id, name, at, value, reason FROM (
              SELECT DISTINCT ON (device_id, body ->> 'to') device_id, body ->> 'to' AS name, kind, body ->> 'at' AS at, body ->> 'from' AS value,
                     body ->> 'reason' AS reason
              FROM events WHERE kind IN ('alarm.raised', 'alarm.cleared') AND body ->> 'to' IS NOT NULL
              ORDER BY device_id, body ->> 'to', body ->> 'at' DESC, received_at DESC) latest
            WHERE kind = 'alarm.raised'
            ORDER BY device_id, name
            """, conn, tx);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            var device = r.GetString(0);
            if (!byDevice.TryGetValue(device, out var list)) byDevice[device] = list = [];
            list.Add(new FleetView.Alarm(r.GetString(1), Time(r.IsDBNull(2) ? null : r.GetString(2)), r.IsDBNull(3) ? null : r.GetString(3),
                r.IsDBNull(4) ? null : r.GetString(4)));
        }
        return byDevice;
    }

    /// <summary>The latest telemetry drift score per device (last 24 hours) and the highest of the last hour.</summary>
    private static async Task<Dictionary<string, FleetView.Drift>> DriftAsync(NpgsqlConnection conn, NpgsqlTransaction tx, CancellationToken ct)
    {
        var byDevice = new Dictionary<string, FleetView.Drift>();
        await using var cmd = new NpgsqlCommand(
            """
            WITH d AS (
              SELECT device_id, received_at, (body #>> '{input,driftScore}')::float8 AS score
              FROM telemetry WHERE received_at > now() - interval '1 day' AND jsonb_typeof(body #> '{input,driftScore}') = 'number')
            SELECT DISTINCT ON (device_id) device_id, score, received_at,
                   max(score) FILTER (WHERE received_at > now() - interval '1 hour') OVER (PARTITION BY device_id)
            FROM d ORDER BY device_id, received_at DESC
            """, conn, tx);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            byDevice[r.GetString(0)] = new FleetView.Drift(r.GetDouble(1), r.GetFieldValue<DateTimeOffset>(2), r.IsDBNull(3) ? null : r.GetDouble(3));
        }
        return byDevice;
    }

    private static async Task ReplayFleetEventsAsync(NpgsqlConnection conn, NpgsqlTransaction tx, RolloutTracker rollout, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            """
            SELECT device_id, kind, body ->> 'at', body ->> 'from', body ->> 'to' FROM events WHERE kind = ANY(@kinds)
            ORDER BY device_id, body ->> 'at', received_at
            """, conn, tx);
        cmd.Parameters.AddWithValue("kinds", RolloutKinds);
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            string? S(int i) => r.IsDBNull(i) ? null : r.GetString(i);
            rollout.Event(r.GetString(0), r.GetString(1), Time(S(2)), S(3), S(4));
        }
    }

    private static DateTimeOffset? Time(string? iso) =>
        DateTimeOffset.TryParse(iso, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var t)
            ? t.ToUniversalTime() : null;

    private static async Task<T> ScalarAsync<T>(NpgsqlConnection conn, NpgsqlTransaction tx, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn, tx);
        return (T)(await cmd.ExecuteScalarAsync(ct))!;
    }
}
