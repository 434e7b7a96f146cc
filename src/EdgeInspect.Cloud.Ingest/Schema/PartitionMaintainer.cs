using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace EdgeInspect.Cloud.Ingest.Schema;

/// <summary>
/// Keeps the day partitions of the time-series tables: creates today's and <see cref="IngestOptions.PartitionDaysAhead"/>
/// days ahead (a row never waits for DDL, and the default partition stays empty), and drops whole partitions that end
/// more than <see cref="IngestOptions.RetentionDays"/> ago (a DROP is instant, a DELETE of a day's rows is not).
/// Partitions are named <c>&lt;table&gt;_pYYYYMMDD</c> and cover [day, day + 1) in UTC.
/// </summary>
public sealed class PartitionMaintainer(NpgsqlDataSource db, IngestOptions options, TimeProvider? time = null, ILogger<PartitionMaintainer>? log = null)
{
    /// <summary>The range-partitioned tables.</summary>
    public static readonly string[] Tables = ["records", "telemetry", "events"];

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly ILogger _log = (ILogger?)log ?? NullLogger.Instance;

    /// <summary>Creates missing partitions and drops expired ones; returns (created, dropped) partition names.</summary>
    public async Task<(IReadOnlyList<string> Created, IReadOnlyList<string> Dropped)> MaintainAsync(CancellationToken ct = default)
    {
        var today = DateOnly.FromDateTime(_time.GetUtcNow().UtcDateTime);
        var created = new List<string>();
        var dropped = new List<string>();
        await using var conn = await db.OpenConnectionAsync(ct);
        foreach (var table in Tables)
        {
            var existing = await PartitionsAsync(conn, table, ct);
            for (var d = today.AddDays(-1); d <= today.AddDays(options.PartitionDaysAhead); d = d.AddDays(1))
            {
                var name = Name(table, d);
                if (existing.Contains(name)) continue;
                var from = d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
                var to = d.AddDays(1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
                await using var cmd = new NpgsqlCommand(
                    $"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} FOR VALUES FROM ('{from} 00:00:00+00') TO ('{to} 00:00:00+00')", conn);
                await cmd.ExecuteNonQueryAsync(ct);
                created.Add(name);
            }
            if (options.RetentionDays <= 0) continue;
            var oldest = today.AddDays(-options.RetentionDays);
            foreach (var name in existing)
            {
                if (DayOf(table, name) is not { } day || day.AddDays(1) > oldest) continue;
                await using var cmd = new NpgsqlCommand($"DROP TABLE IF EXISTS {name}", conn);
                await cmd.ExecuteNonQueryAsync(ct);
                dropped.Add(name);
            }
        }
        if (options.RetentionDays > 0)
        {
            await using var dl = new NpgsqlCommand("DELETE FROM dead_letters WHERE received_at < @t", conn);
            dl.Parameters.AddWithValue("t", _time.GetUtcNow().AddDays(-options.RetentionDays));
            await dl.ExecuteNonQueryAsync(ct);
        }
        if (created.Count + dropped.Count > 0)
        {
            _log.LogInformation("Partitions: created {Created}; dropped past {Days} days of retention: {Dropped}",
                created.Count == 0 ? "none" : string.Join(", ", created), options.RetentionDays, dropped.Count == 0 ? "none" : string.Join(", ", dropped));
        }
        return (created, dropped);
    }

    /// <summary><c>records_p20261202</c>.</summary>
    public static string Name(string table, DateOnly day) => $"{table}_p{day:yyyyMMdd}";

    private static DateOnly? DayOf(string table, string name) =>
        name.StartsWith(table + "_p", StringComparison.Ordinal)
        && DateOnly.TryParseExact(name[(table.Length + 2)..], "yyyyMMdd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d) ? d : null;

    private static async Task<HashSet<string>> PartitionsAsync(NpgsqlConnection conn, string table, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = @t", conn);
        cmd.Parameters.AddWithValue("t", table);
        var set = new HashSet<string>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) set.Add(r.GetString(0));
        return set;
    }
}
