using System.Text;
using EdgeInspect.Cloud.Ingest;
using EdgeInspect.Cloud.Ingest.Intake;
using EdgeInspect.Cloud.Ingest.Parsing;
using EdgeInspect.Cloud.Ingest.Schema;
using EdgeInspect.Cloud.Ingest.Writing;
using EdgeInspect.TestSupport;
using Npgsql;
using Xunit;

namespace EdgeInspect.Cloud.Tests.Ingest.Writing;

/// <summary>The write path (COPY into the session's staging table, then INSERT ... SELECT) against a real PostgreSQL.</summary>
public sealed class IngestWriterTests(PostgresFixture pg) : IClassFixture<PostgresFixture>
{
    private async Task<(NpgsqlDataSource Db, MessageParser Parser)> DatabaseAsync()
    {
        var cs = await pg.Cluster!.CreateDatabaseAsync("w" + Guid.NewGuid().ToString("N")[..12]);
        var options = new IngestOptions { ConnectionString = cs, RetentionDays = 0 };
        var db = NpgsqlDataSource.Create(cs);
        await SchemaMigrator.MigrateAsync(db);
        await new PartitionMaintainer(db, options).MaintainAsync();
        return (db, new MessageParser(options));
    }

    private static IngestMessage Record(long sequence, string extra = "")
    {
        var json = $$"""{"deviceId":"dev-w","storeEpoch":"e1","sequence":{{sequence}},"capturedAt":"{{DateTimeOffset.UtcNow:O}}","verdict":"ok"{{extra}}}""";
        var bytes = Encoding.UTF8.GetBytes(json);
        return new IngestMessage("edgeinspect/dev-w/records", bytes, bytes.Length, DateTimeOffset.UtcNow);
    }

    private static async Task<long> CountAsync(NpgsqlDataSource db, string sql)
    {
        await using var cmd = db.CreateCommand(sql);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    [PostgresFact]
    public async Task WriteAsync_SameRecordsTwice_StoredOnceAndAllAcknowledgedBothTimes()
    {
        var (db, parser) = await DatabaseAsync();
        await using var _ = db;
        await using var writer = new IngestWriter(db);
        IngestMessage[] batch = [Record(1), Record(2), Record(3)];

        var first = await writer.WriteAsync(parser.Parse(batch), CancellationToken.None);
        var again = await writer.WriteAsync(parser.Parse(batch), CancellationToken.None);

        Assert.Equal((3, 3), (first.Inserted, first.Committed.Count));
        Assert.Equal((0, 3), (again.Inserted, again.Committed.Count));
        Assert.Equal(3L, await CountAsync(db, "SELECT count(*) FROM records"));
    }

    [PostgresFact]
    public async Task WriteAsync_RecordPostgresRefuses_RestStoredRefusedOneDeadLetteredAndAcknowledged()
    {
        var (db, parser) = await DatabaseAsync();
        await using var _ = db;
        await using var writer = new IngestWriter(db);
        // Valid JSON the parser takes, but jsonb refuses a lone surrogate escape: the COPY fails on the server.
        var parsed = parser.Parse([Record(1), Record(2, ""","partId":"\ud800" """), Record(3)]);
        Assert.Empty(parsed.DeadLetters);

        var result = await writer.WriteAsync(parsed, CancellationToken.None);

        Assert.Equal((2, 1), (result.Inserted, result.DeadLettered));
        Assert.Equal([1L, 2L, 3L], result.Committed.Select(k => k.Sequence).Order());
        Assert.Equal(2L, await CountAsync(db, "SELECT count(*) FROM records"));
        Assert.Equal(1L, await CountAsync(db, "SELECT count(*) FROM dead_letters WHERE reason LIKE 'refused by PostgreSQL: 22%' AND topic LIKE '%dev-w/e1/2)'"));
    }

    [PostgresFact]
    public async Task WriteAsync_DeviceIdsWithLoneSurrogate_BothDeadLetteredWithReasonRestStored()
    {
        var (db, parser) = await DatabaseAsync();
        await using var _ = db;
        await using var writer = new IngestWriter(db);
        static IngestMessage Message(string topic, string json) =>
            new(topic, Encoding.UTF8.GetBytes(json), Encoding.UTF8.GetByteCount(json), DateTimeOffset.UtcNow);
        var parsed = parser.Parse([
            Record(1),
            Message("edgeinspect/dev-w/records", $$"""{"deviceId":"dev-\ud800","storeEpoch":"e1","sequence":2,"capturedAt":"{{DateTimeOffset.UtcNow:O}}"}"""),
            Message("edgeinspect/dev-\ud800/status", """{"state":"online"}"""),
        ]);

        var result = await writer.WriteAsync(parsed, CancellationToken.None);

        Assert.Equal((1, 2), (result.Inserted, result.DeadLettered));
        Assert.Equal(1L, await CountAsync(db, "SELECT count(*) FROM dead_letters WHERE reason = 'record deviceId is not text: it holds a lone UTF-16 surrogate'"));
        Assert.Equal(1L, await CountAsync(db, "SELECT count(*) FROM dead_letters WHERE reason LIKE 'topic is not %' AND topic = 'edgeinspect/dev-\uFFFD/status'"));
    }

    [PostgresFact]
    public async Task WriteAsync_TelemetryPostgresRefuses_RecordsAndOtherTelemetryStoredRefusedOneDeadLettered()
    {
        var (db, parser) = await DatabaseAsync();
        await using var _ = db;
        await using var writer = new IngestWriter(db);
        static IngestMessage Telemetry(string json)
        {
            var bytes = Encoding.UTF8.GetBytes(json);
            return new IngestMessage("edgeinspect/dev-w/telemetry", bytes, bytes.Length, DateTimeOffset.UtcNow);
        }
        // jsonb refuses the lone surrogate escape: before, the batch's last write threw and the worker retried it for ever.
        var parsed = parser.Parse([Record(1), Telemetry("""{"parts":1}"""), Telemetry("""{"note":"\ud800"}"""), Record(2)]);

        var result = await writer.WriteAsync(parsed, CancellationToken.None);

        Assert.Equal([1L, 2L], result.Committed.Select(k => k.Sequence).Order());
        Assert.Equal(2L, await CountAsync(db, "SELECT count(*) FROM records"));
        Assert.Equal(1L, await CountAsync(db, "SELECT count(*) FROM telemetry"));
        Assert.Equal(1L, await CountAsync(db, "SELECT count(*) FROM dead_letters WHERE reason LIKE 'refused by PostgreSQL: 22%' AND topic = '(telemetry of dev-w)'"));
    }

    [PostgresFact]
    public async Task WriteAsync_ConnectionKilledBetweenBatches_AtMostOneFailureThenANewSessionWithItsStagingTable()
    {
        var (db, parser) = await DatabaseAsync();
        await using var _ = db;
        await using var writerDb = NpgsqlDataSource.Create(db.ConnectionString + ";Application Name=ingest-writer-test");
        await using var writer = new IngestWriter(writerDb);
        await writer.WriteAsync(parser.Parse([Record(1)]), CancellationToken.None);
        // what a server restart or a dropped link does to the writer's kept session (and its temporary table)
        Assert.Equal(1L, await CountAsync(db,
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'ingest-writer-test') t"));

        // the ingest loop retries a failed batch; the writer must need at most one failure to be back
        var failures = 0;
        WriteResult? result = null;
        while (result is null)
        {
            try { result = await writer.WriteAsync(parser.Parse([Record(2), Record(3)]), CancellationToken.None); }
            catch (NpgsqlException) { Assert.True(++failures <= 1, "a second failure after the session was killed"); }
        }

        Assert.Equal(2, result.Inserted);
        Assert.Equal(3L, await CountAsync(db, "SELECT count(*) FROM records"));
    }
}
