using System.Text;
using EdgeInspect.Cloud.Ingest.Parsing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;

namespace EdgeInspect.Cloud.Ingest.Writing;

/// <summary>
/// Writes one <see cref="ParsedBatch"/> in one transaction: each table gets one multi-row
/// <c>INSERT ... SELECT FROM unnest(arrays)</c> (one round trip however many rows), records with
/// <c>ON CONFLICT DO NOTHING</c> so a record sent again is stored once. When PostgreSQL rejects a row's data
/// (SQLSTATE class 22 or 23) the batch is written again one record per transaction and the rejected ones become dead
/// letters, so one bad row cannot stop the ingest. Other errors (connection, server down) are thrown: the caller retries
/// the whole batch, and nothing is acknowledged before a commit.
/// </summary>
public sealed class IngestWriter(NpgsqlDataSource db, ILogger<IngestWriter>? log = null)
{
    private readonly ILogger _log = (ILogger?)log ?? NullLogger.Instance;

    /// <summary>Writes the batch; returns the record keys now committed (stored, already there, or dead-lettered) and how many were new.</summary>
    public async Task<WriteResult> WriteAsync(ParsedBatch batch, CancellationToken ct)
    {
        try
        {
            var inserted = await WriteOnceAsync(batch, batch.Records, ct);
            return new WriteResult([.. batch.Records.Select(r => r.Key), .. batch.DeadLetteredRecords], inserted, batch.DeadLetters.Count);
        }
        catch (PostgresException e) when (IsDataError(e))
        {
            _log.LogWarning("A batch of {Count} records was refused ({State}: {Message}); writing them one by one", batch.Records.Count, e.SqlState, e.MessageText);
        }
        var extra = new List<DeadLetter>();
        var keys = new List<RecordKey>(batch.DeadLetteredRecords);
        var insertedOne = 0;
        var rest = new ParsedBatch();
        foreach (var r in batch.Records)
        {
            var single = new ParsedBatch();
            single.Records.Add(r);
            try
            {
                insertedOne += await WriteOnceAsync(single, single.Records, ct);
            }
            catch (PostgresException e) when (IsDataError(e))
            {
                extra.Add(new DeadLetter($"(record {r.Key.DeviceId}/{r.Key.Epoch}/{r.Key.Sequence})", $"refused by PostgreSQL: {e.SqlState} {e.MessageText}",
                    Encoding.UTF8.GetByteCount(r.Body), Encoding.UTF8.GetBytes(r.Body), r.ReceivedAt));
            }
            keys.Add(r.Key);
        }
        rest.Telemetry.AddRange(batch.Telemetry);
        rest.Events.AddRange(batch.Events);
        foreach (var (k, v) in batch.Status) rest.Status[k] = v;
        rest.DeadLetters.AddRange(batch.DeadLetters);
        rest.DeadLetters.AddRange(extra);
        await WriteOnceAsync(rest, [], ct);
        return new WriteResult(keys, insertedOne, rest.DeadLetters.Count);
    }

    private static bool IsDataError(PostgresException e) => e.SqlState.StartsWith("22", StringComparison.Ordinal) || e.SqlState.StartsWith("23", StringComparison.Ordinal);

    private async Task<int> WriteOnceAsync(ParsedBatch batch, List<RecordRow> records, CancellationToken ct)
    {
        await using var conn = await db.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var inserted = 0;
        if (records.Count > 0)
        {
            await using var cmd = new NpgsqlCommand(
                """
                INSERT INTO records (device_id, store_epoch, sequence, captured_at, decided_at, received_at, station, mode, model_name, model_version,
                                     verdict, verdict_source, model_verdict, human_verdict, model_confidence, body)
                SELECT d, e, s, c, dc, rc, st, mo, mn, mv, v, vs, mvd, hv, conf, b::jsonb
                FROM unnest(@d, @e, @s, @c, @dc, @rc, @st, @mo, @mn, @mv, @v, @vs, @mvd, @hv, @conf, @b)
                     AS t(d, e, s, c, dc, rc, st, mo, mn, mv, v, vs, mvd, hv, conf, b)
                ON CONFLICT DO NOTHING
                """, conn, tx);
            Add(cmd, "d", NpgsqlDbType.Text, records.Select(r => r.Key.DeviceId));
            Add(cmd, "e", NpgsqlDbType.Text, records.Select(r => r.Key.Epoch));
            Add(cmd, "s", NpgsqlDbType.Bigint, records.Select(r => r.Key.Sequence));
            Add(cmd, "c", NpgsqlDbType.TimestampTz, records.Select(r => r.CapturedAt.UtcDateTime));
            Add(cmd, "dc", NpgsqlDbType.TimestampTz, records.Select(r => (DateTime?)r.DecidedAt?.UtcDateTime));
            Add(cmd, "rc", NpgsqlDbType.TimestampTz, records.Select(r => r.ReceivedAt.UtcDateTime));
            Add(cmd, "st", NpgsqlDbType.Text, records.Select(r => r.Station));
            Add(cmd, "mo", NpgsqlDbType.Text, records.Select(r => r.Mode));
            Add(cmd, "mn", NpgsqlDbType.Text, records.Select(r => r.ModelName));
            Add(cmd, "mv", NpgsqlDbType.Text, records.Select(r => r.ModelVersion));
            Add(cmd, "v", NpgsqlDbType.Text, records.Select(r => r.Verdict));
            Add(cmd, "vs", NpgsqlDbType.Text, records.Select(r => r.VerdictSource));
            Add(cmd, "mvd", NpgsqlDbType.Text, records.Select(r => r.ModelVerdict));
            Add(cmd, "hv", NpgsqlDbType.Text, records.Select(r => r.HumanVerdict));
            Add(cmd, "conf", NpgsqlDbType.Real, records.Select(r => r.ModelConfidence));
            Add(cmd, "b", NpgsqlDbType.Text, records.Select(r => r.Body));
            inserted = await cmd.ExecuteNonQueryAsync(ct);
        }
        foreach (var (table, rows) in new[] { ("telemetry", batch.Telemetry), ("events", batch.Events) })
        {
            if (rows.Count == 0) continue;
            await using var cmd = table == "events"
                ? new NpgsqlCommand("INSERT INTO events (device_id, received_at, kind, body) SELECT d, r, k, b::jsonb FROM unnest(@d, @r, @k, @b) AS t(d, r, k, b)", conn, tx)
                : new NpgsqlCommand("INSERT INTO telemetry (device_id, received_at, body) SELECT d, r, b::jsonb FROM unnest(@d, @r, @b) AS t(d, r, b)", conn, tx);
            Add(cmd, "d", NpgsqlDbType.Text, rows.Select(r => r.DeviceId));
            Add(cmd, "r", NpgsqlDbType.TimestampTz, rows.Select(r => r.ReceivedAt.UtcDateTime));
            if (table == "events") Add(cmd, "k", NpgsqlDbType.Text, rows.Select(r => r.Kind));
            Add(cmd, "b", NpgsqlDbType.Text, rows.Select(r => r.Body));
            await cmd.ExecuteNonQueryAsync(ct);
        }
        if (batch.Status.Count > 0)
        {
            var rows = batch.Status.Values.ToList();
            await using var cmd = new NpgsqlCommand(
                """
                INSERT INTO device_status (device_id, state, mode, active_model, active_model_version, software_version, received_at, body)
                SELECT d, st, mo, am, amv, sv, r, b::jsonb FROM unnest(@d, @st, @mo, @am, @amv, @sv, @r, @b) AS t(d, st, mo, am, amv, sv, r, b)
                ON CONFLICT (device_id) DO UPDATE SET state = excluded.state, mode = excluded.mode, active_model = excluded.active_model,
                    active_model_version = excluded.active_model_version, software_version = excluded.software_version,
                    received_at = excluded.received_at, body = excluded.body
                WHERE excluded.received_at >= device_status.received_at
                """, conn, tx);
            Add(cmd, "d", NpgsqlDbType.Text, rows.Select(r => r.DeviceId));
            Add(cmd, "st", NpgsqlDbType.Text, rows.Select(r => r.State));
            Add(cmd, "mo", NpgsqlDbType.Text, rows.Select(r => r.Mode));
            Add(cmd, "am", NpgsqlDbType.Text, rows.Select(r => r.ActiveModel));
            Add(cmd, "amv", NpgsqlDbType.Text, rows.Select(r => r.ActiveModelVersion));
            Add(cmd, "sv", NpgsqlDbType.Text, rows.Select(r => r.SoftwareVersion));
            Add(cmd, "r", NpgsqlDbType.TimestampTz, rows.Select(r => r.ReceivedAt.UtcDateTime));
            Add(cmd, "b", NpgsqlDbType.Text, rows.Select(r => r.Body));
            await cmd.ExecuteNonQueryAsync(ct);
        }
        if (batch.DeadLetters.Count > 0)
        {
            var rows = batch.DeadLetters;
            await using var cmd = new NpgsqlCommand(
                "INSERT INTO dead_letters (received_at, topic, reason, size, payload) SELECT r, t, re, s, p FROM unnest(@r, @t, @re, @s, @p) AS x(r, t, re, s, p)",
                conn, tx);
            Add(cmd, "r", NpgsqlDbType.TimestampTz, rows.Select(r => r.ReceivedAt.UtcDateTime));
            Add(cmd, "t", NpgsqlDbType.Text, rows.Select(r => r.Topic));
            Add(cmd, "re", NpgsqlDbType.Text, rows.Select(r => r.Reason));
            Add(cmd, "s", NpgsqlDbType.Integer, rows.Select(r => r.Size));
            Add(cmd, "p", NpgsqlDbType.Bytea, rows.Select(r => r.Payload));
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return inserted;
    }

    private static void Add<T>(NpgsqlCommand cmd, string name, NpgsqlDbType type, IEnumerable<T> values) =>
        cmd.Parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Array | type) { Value = values.ToArray() });
}

/// <summary>What a write committed: the record keys to acknowledge, how many records were new, how many dead letters.</summary>
public sealed record WriteResult(IReadOnlyList<RecordKey> Committed, int Inserted, int DeadLettered);
