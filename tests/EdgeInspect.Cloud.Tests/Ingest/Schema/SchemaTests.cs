using EdgeInspect.Cloud.Ingest;
using EdgeInspect.Cloud.Ingest.Schema;
using EdgeInspect.Cloud.Tests.Ingest;
using EdgeInspect.TestSupport;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using Xunit;

namespace EdgeInspect.Cloud.Tests.Ingest.Schema;

public sealed class SchemaTests(PostgresFixture pg) : IClassFixture<PostgresFixture>
{
    [PostgresFact]
    public async Task MigrateAsync_TwiceOnOneDatabase_AppliesEachFileOnceAndRecordsItsVersion()
    {
        var cs = await pg.Cluster!.CreateDatabaseAsync("m" + Guid.NewGuid().ToString("N")[..12]);
        await using var db = NpgsqlDataSource.Create(cs);
        var first = await SchemaMigrator.MigrateAsync(db);
        var second = await SchemaMigrator.MigrateAsync(db);
        Assert.Equal(SchemaMigrator.Migrations.Select(m => m.Version), first);
        Assert.Empty(second);
        await using var cmd = db.CreateCommand("SELECT count(*) FROM schema_version");
        Assert.Equal((long)SchemaMigrator.Migrations.Count, await cmd.ExecuteScalarAsync());
    }

    [PostgresFact]
    public async Task MaintainAsync_DaysPastRetention_DropsOldDayPartitionsAndCreatesDaysAhead()
    {
        var cs = await pg.Cluster!.CreateDatabaseAsync("p" + Guid.NewGuid().ToString("N")[..12]);
        await using var db = NpgsqlDataSource.Create(cs);
        await SchemaMigrator.MigrateAsync(db);
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 12, 0, 0, TimeSpan.Zero));
        var options = new IngestOptions { ConnectionString = cs, RetentionDays = 3, PartitionDaysAhead = 2 };
        var maintainer = new PartitionMaintainer(db, options, time);
        var (created, _) = await maintainer.MaintainAsync();
        Assert.Contains("records_p20261130", created);
        Assert.Contains("records_p20261203", created);

        // a record on 30 Nov lands in its day partition
        await using (var ins = db.CreateCommand(
            "INSERT INTO records (device_id, store_epoch, sequence, captured_at, received_at, body) VALUES ('d', 'e', 1, '2026-11-30T10:00:00Z', now(), '{}')"))
        {
            await ins.ExecuteNonQueryAsync();
        }
        await using (var where = db.CreateCommand("SELECT tableoid::regclass::text FROM records"))
        {
            Assert.Equal("records_p20261130", await where.ExecuteScalarAsync());
        }

        time.Advance(TimeSpan.FromDays(5)); // 6 Dec: 30 Nov and 1 Dec end more than 3 days ago (2 Dec ends on the 3rd)
        var (createdLater, dropped) = await maintainer.MaintainAsync();
        Assert.Contains("records_p20261130", dropped);
        Assert.Contains("records_p20261201", dropped);
        Assert.DoesNotContain("records_p20261203", dropped);
        Assert.Contains("records_p20261208", createdLater);
        await using var count = db.CreateCommand("SELECT count(*) FROM records");
        Assert.Equal(0L, await count.ExecuteScalarAsync());
    }
}
