using System.Text;
using EdgeInspect.Cloud.Ingest.Parsing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;

namespace EdgeInspect.Cloud.Ingest.Writing;

/// <summary>
/// Writes one <see cref="ParsedBatch"/> in one transaction on the writer's own connection, in three round trips however
/// many rows: the records by binary COPY into a session staging table, then one batch of statements (records
/// <c>INSERT ... SELECT FROM records_staging ON CONFLICT DO NOTHING</c>, so a record sent again is stored once; telemetry,
/// events, status and dead letters each one <c>INSERT ... SELECT FROM unnest(arrays)</c>), then the commit. When PostgreSQL rejects a row's data
/// (SQLSTATE class 22 or 23) the batch is written again one record per transaction and the rejected ones become dead
/// letters, so one bad row cannot stop the ingest. Other errors (connection, server down) are thrown: the caller retries
/// the whole batch, and nothing is acknowledged before a commit.
/// </summary>
public sealed class IngestWriter(NpgsqlDataSource db, ILogger<IngestWriter>? log = null) : IAsyncDisposable
{
    private readonly ILogger _log = (ILogger?)log ?? NullLogger.Instance;
    private NpgsqlConnection? _conn;

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
        try
        {
            await WriteOnceAsync(rest, [], ct);
        }
        catch (PostgresException e) when (IsDataError(e))
        {
            // A telemetry, event or status row refused as well: written alone, or dead-lettered, so that one bad row
            // cannot send the whole batch back for ever (the worker retries a batch whose write throws).
            _log.LogWarning("The telemetry, events and status of that batch were refused too ({State}: {Message}); writing them one by one", e.SqlState, e.MessageText);
            var refused = await WriteRowsAloneAsync(rest, ct);
            rest.DeadLetters.AddRange(refused);
            var letters = new ParsedBatch();
            letters.DeadLetters.AddRange(rest.DeadLetters);
            await WriteOnceAsync(letters, [], ct);
        }
        return new WriteResult(keys, insertedOne, rest.DeadLetters.Count);
    }

    /// <summary>Writes each telemetry, event and status row of <paramref name="batch"/> alone; returns dead letters for those refused.</summary>
    private async Task<List<DeadLetter>> WriteRowsAloneAsync(ParsedBatch batch, CancellationToken ct)
    {
        var refused = new List<DeadLetter>();
        async Task TryAlone(ParsedBatch single, string what, string body, DateTimeOffset receivedAt)
        {
            try
            {
                await WriteOnceAsync(single, [], ct);
            }
            catch (PostgresException e) when (IsDataError(e))
            {
                var bytes = Encoding.UTF8.GetBytes(body);
                refused.Add(new DeadLetter(what, $"refused by PostgreSQL: {e.SqlState} {e.MessageText}", bytes.Length, bytes, receivedAt));
            }
        }
        foreach (var t in batch.Telemetry)
        {
            var single = new ParsedBatch();
            single.Telemetry.Add(t);
            await TryAlone(single, $"(telemetry of {t.DeviceId})", t.Body, t.ReceivedAt);
        }
        foreach (var ev in batch.Events)
        {
            var single = new ParsedBatch();
            single.Events.Add(ev);
            await TryAlone(single, $"(event {ev.Kind} of {ev.DeviceId})", ev.Body, ev.ReceivedAt);
        }
        foreach (var (device, status) in batch.Status)
        {
            var single = new ParsedBatch();
            single.Status[device] = status;
            await TryAlone(single, $"(status of {device})", status.Body, status.ReceivedAt);
        }
        return refused;
    }

    private static bool IsDataError(PostgresException e) => e.SqlState.StartsWith("22", StringComparison.Ordinal) || e.SqlState.StartsWith("23", StringComparison.Ordinal);

    private async Task<int> WriteOnceAsync(ParsedBatch batch, List<RecordRow> records, CancellationToken ct)
    {
        var conn = await ConnectionAsync(ct);
        try
        {
            await using var tx = await conn.BeginTransactionAsync(ct);
            if (records.Count > 0) await CopyRecordsAsync(conn, records, ct);
            // Every statement of the batch in one round trip; the records' INSERT ... SELECT is first, so its row
            // count (the new records) is the first command's.
            await using var sql = new NpgsqlBatch(conn, tx);
            if (records.Count > 0) sql.BatchCommands.Add(new NpgsqlBatchCommand(InsertFromStaging));
            foreach (var (table, rows) in new[] { ("telemetry", batch.Telemetry), ("events", batch.Events) })
            {
                if (rows.Count == 0) continue;
                var cmd = new NpgsqlBatchCommand(table == "events"
                    ? "INSERT INTO events (device_id, received_at, kind, body) SELECT d, r, k, b::jsonb FROM unnest(@d, @r, @k, @b) AS t(d, r, k, b)"
                    : "INSERT INTO telemetry (device_id, received_at, body) SELECT d, r, b::jsonb FROM unnest(@d, @r, @b) AS t(d, r, b)");
                Add(cmd, "d", NpgsqlDbType.Text, rows.Select(r => r.DeviceId));
                Add(cmd, "r", NpgsqlDbType.TimestampTz, rows.Select(r => r.ReceivedAt.UtcDateTime));
                if (table == "events") Add(cmd, "k", NpgsqlDbType.Text, rows.Select(r => r.Kind));
                Add(cmd, "b", NpgsqlDbType.Text, rows.Select(r => r.Body));
                sql.BatchCommands.Add(cmd);
            }
            if (batch.Status.Count > 0)
            {
                var rows = batch.Status.Values.ToList();
                var cmd = new NpgsqlBatchCommand(
                    """
                    INSERT INTO device_status (device_id, state, mode, active_model, active_model_version, software_version, received_at, body)
                    SELECT d, st, mo, am, amv, sv, r, b::jsonb FROM unnest(@d, @st, @mo, @am, @amv, @sv, @r, @b) AS t(d, st, mo, am, amv, sv, r, b)
                    ON CONFLICT (device_id) DO UPDATE SET state = excluded.state, mode = excluded.mode, active_model = excluded.active_model,
                        active_model_version = excluded.active_model_version, software_version = excluded.software_version,
                        received_at = excluded.received_at, body = excluded.body
                    WHERE excluded.received_at >= device_status.received_at
                    """);
                Add(cmd, "d", NpgsqlDbType.Text, rows.Select(r => r.DeviceId));
                Add(cmd, "st", NpgsqlDbType.Text, rows.Select(r => r.State));
                Add(cmd, "mo", NpgsqlDbType.Text, rows.Select(r => r.Mode));
                Add(cmd, "am", NpgsqlDbType.Text, rows.Select(r => r.ActiveModel));
                Add(cmd, "amv", NpgsqlDbType.Text, rows.Select(r => r.ActiveModelVersion));
                Add(cmd, "sv", NpgsqlDbType.Text, rows.Select(r => r.SoftwareVersion));
                Add(cmd, "r", NpgsqlDbType.TimestampTz, rows.Select(r => r.ReceivedAt.UtcDateTime));
                Add(cmd, "b", NpgsqlDbType.Text, rows.Select(r => r.Body));
                sql.BatchCommands.Add(cmd);
            }
            if (batch.DeadLetters.Count > 0)
            {
                var rows = batch.DeadLetters;
                var cmd = new NpgsqlBatchCommand(
                    "INSERT INTO dead_letters (received_at, topic, reason, size, payload) SELECT r, t, re, s, p FROM unnest(@r, @t, @re, @s, @p) AS x(r, t, re, s, p)");
                Add(cmd, "r", NpgsqlDbType.TimestampTz, rows.Select(r => r.ReceivedAt.UtcDateTime));
                Add(cmd, "t", NpgsqlDbType.Text, rows.Select(r => r.Topic));
                Add(cmd, "re", NpgsqlDbType.Text, rows.Select(r => r.Reason));
                Add(cmd, "s", NpgsqlDbType.Integer, rows.Select(r => r.Size));
                Add(cmd, "p", NpgsqlDbType.Bytea, rows.Select(r => r.Payload));
                sql.BatchCommands.Add(cmd);
            }
            var inserted = 0;
            if (sql.BatchCommands.Count > 0)
            {
                await sql.ExecuteNonQueryAsync(ct);
                if (records.Count > 0) inserted = sql.BatchCommands[0].RecordsAffected;
            }
            await tx.CommitAsync(ct);
            return inserted;
        }
        catch (Exception e) when (e is not PostgresException pe || !IsDataError(pe))
        {
            // The connection's state is unknown after anything but a refused row (broken link, server restart,
            // cancellation mid-COPY): the next batch opens a fresh one.
            await DropConnectionAsync();
            throw;
        }
    }

    /// <summary>
    /// Binary COPY of the batch's records into the session's staging table: the cheapest way into PostgreSQL (no
    /// SQL text, no parameter arrays, binary values), which a plain COPY into <c>records</c> cannot use because COPY
    /// has no ON CONFLICT; the INSERT ... SELECT from staging adds it in the same transaction.
    /// </summary>
    private static async Task CopyRecordsAsync(NpgsqlConnection conn, List<RecordRow> records, CancellationToken ct)
    {
        await using var copy = await conn.BeginBinaryImportAsync(
            "COPY records_staging (device_id, store_epoch, sequence, captured_at, decided_at, received_at, station, mode, model_name, model_version, " +
            "verdict, verdict_source, model_verdict, human_verdict, model_confidence, body) FROM STDIN (FORMAT BINARY)", ct);
        foreach (var r in records)
        {
            await copy.StartRowAsync(ct);
            await copy.WriteAsync(r.Key.DeviceId, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(r.Key.Epoch, NpgsqlDbType.Text, ct);
            await copy.WriteAsync(r.Key.Sequence, NpgsqlDbType.Bigint, ct);
            await copy.WriteAsync(r.CapturedAt.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            await WriteNullableAsync(copy, r.DecidedAt?.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            await copy.WriteAsync(r.ReceivedAt.UtcDateTime, NpgsqlDbType.TimestampTz, ct);
            await WriteNullableAsync(copy, r.Station, NpgsqlDbType.Text, ct);
            await WriteNullableAsync(copy, r.Mode, NpgsqlDbType.Text, ct);
            await WriteNullableAsync(copy, r.ModelName, NpgsqlDbType.Text, ct);
            await WriteNullableAsync(copy, r.ModelVersion, NpgsqlDbType.Text, ct);
            await WriteNullableAsync(copy, r.Verdict, NpgsqlDbType.Text, ct);
            await WriteNullableAsync(copy, r.VerdictSource, NpgsqlDbType.Text, ct);
            await WriteNullableAsync(copy, r.ModelVerdict, NpgsqlDbType.Text, ct);
            await WriteNullableAsync(copy, r.HumanVerdict, NpgsqlDbType.Text, ct);
            await WriteNullableAsync(copy, r.ModelConfidence, NpgsqlDbType.Real, ct);
            await copy.WriteAsync(r.Body, NpgsqlDbType.Jsonb, ct);
        }
        await copy.CompleteAsync(ct);
    }

    private static Task WriteNullableAsync<T>(NpgsqlBinaryImporter copy, T? value, NpgsqlDbType type, CancellationToken ct) where T : class =>
        value is null ? copy.WriteNullAsync(ct) : copy.WriteAsync(value, type, ct);

    private static Task WriteNullableAsync<T>(NpgsqlBinaryImporter copy, T? value, NpgsqlDbType type, CancellationToken ct) where T : struct =>
        value is { } v ? copy.WriteAsync(v, type, ct) : copy.WriteNullAsync(ct);

    private const string InsertFromStaging =
        """
        INSERT INTO records (device_id, store_epoch, sequence, captured_at, decided_at, received_at, station, mode, model_name, model_version,
                             verdict, verdict_source, model_verdict, human_verdict, model_confidence, body)
        SELECT device_id, store_epoch, sequence, captured_at, decided_at, received_at, station, mode, model_name, model_version,
               verdict, verdict_source, model_verdict, human_verdict, model_confidence, body
        FROM records_staging
        ON CONFLICT DO NOTHING
        """;

    /// <summary>
    /// The writer's own connection, kept open between batches: its session holds the staging table (a temporary table
    /// lives as long as its session, and a pooled connection's reset would drop it), and no batch pays for a
    /// connection check-out. The caller writes one batch at a time.
    /// </summary>
    private async Task<NpgsqlConnection> ConnectionAsync(CancellationToken ct)
    {
        if (_conn is { State: System.Data.ConnectionState.Open }) return _conn;
        await DropConnectionAsync();
        var conn = await db.OpenConnectionAsync(ct);
        try
        {
            // ON COMMIT DELETE ROWS empties it at each commit (a truncate of a session-local table: no WAL, no vacuum).
            await using var create = new NpgsqlCommand(
                "CREATE TEMP TABLE IF NOT EXISTS records_staging (LIKE records INCLUDING DEFAULTS) ON COMMIT DELETE ROWS", conn);
            await create.ExecuteNonQueryAsync(ct);
        }
        catch
        {
            await conn.DisposeAsync();
            throw;
        }
        _conn = conn;
        return conn;
    }

    private async Task DropConnectionAsync()
    {
        if (_conn is null) return;
        var conn = _conn;
        _conn = null;
        try { await conn.DisposeAsync(); }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException or IOException) { /* already broken */ }
    }

    /// <summary>Closes the writer's connection.</summary>
    public ValueTask DisposeAsync() => new(DropConnectionAsync());

    private static void Add<T>(NpgsqlBatchCommand cmd, string name, NpgsqlDbType type, IEnumerable<T> values) =>
        cmd.Parameters.Add(new NpgsqlParameter(name, NpgsqlDbType.Array | type) { Value = values.ToArray() });
}

/// <summary>What a write committed: the record keys to acknowledge, how many records were new, how many dead letters.</summary>
public sealed record WriteResult(IReadOnlyList<RecordKey> Committed, int Inserted, int DeadLettered);
