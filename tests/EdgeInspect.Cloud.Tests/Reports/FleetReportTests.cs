using EdgeInspect.Cloud.Ingest.Schema;
using EdgeInspect.Cloud.Reports;
using EdgeInspect.Cloud.Tests.Ingest;
using EdgeInspect.TestSupport;
using Npgsql;
using Xunit;

namespace EdgeInspect.Cloud.Tests.Reports;

public sealed class FleetReportTests(PostgresFixture pg) : IClassFixture<PostgresFixture>
{
    [PostgresFact]
    public async Task ReadAsync_StatusAndRecordsOfTwoDevices_OneLinePerDeviceWithPartsNgRateAndAgreement()
    {
        var cs = await pg.Cluster!.CreateDatabaseAsync("r" + Guid.NewGuid().ToString("N")[..12]);
        await using var db = NpgsqlDataSource.Create(cs);
        await SchemaMigrator.MigrateAsync(db);
        await new PartitionMaintainer(db, new EdgeInspect.Cloud.Ingest.IngestOptions { ConnectionString = cs }).MaintainAsync();
        await using (var cmd = db.CreateCommand(
            """
            INSERT INTO device_status (device_id, state, mode, active_model, active_model_version, received_at)
            VALUES ('dev-1', 'online', 'shadow', 'defects', '3', now()), ('dev-2', 'offline', 'full', 'defects', '2', now() - interval '2 hours');
            -- dev-1: 10 parts in the last hour, 2 NG; 8 paired with a human, 6 agreeing, on model version 3
            INSERT INTO records (device_id, store_epoch, sequence, captured_at, received_at, verdict, model_version, model_verdict, human_verdict, body)
            SELECT 'dev-1', 'e', g, now() - interval '10 minutes', now(), CASE WHEN g <= 2 THEN 'ng' ELSE 'ok' END, '3',
                   CASE WHEN g <= 8 THEN (CASE WHEN g <= 6 THEN 'ok' ELSE 'ng' END) END, CASE WHEN g <= 8 THEN 'ok' END, '{}'
            FROM generate_series(1, 10) g;
            -- dev-2: 4 parts three hours ago, none NG
            INSERT INTO records (device_id, store_epoch, sequence, captured_at, received_at, verdict, body)
            SELECT 'dev-2', 'e', g, now() - interval '3 hours', now() - interval '3 hours', 'ok', '{}' FROM generate_series(1, 4) g;
            """))
        {
            await cmd.ExecuteNonQueryAsync();
        }

        var lines = await FleetReport.ReadAsync(db);

        Assert.Equal(["dev-1", "dev-2"], lines.Select(l => l.DeviceId));
        var one = lines[0];
        Assert.Equal(("online", "shadow", "3"), (one.State, one.Mode, one.ActiveModelVersion));
        Assert.Equal((10L, 2L, 10L, 2L), (one.PartsHour, one.NgHour, one.PartsDay, one.NgDay));
        var agreement = Assert.Single(one.Agreement);
        Assert.Equal(("3", 8L, 6L), (agreement.ModelVersion, agreement.Paired, agreement.Agreed));
        Assert.InRange(agreement.Lower, 0.40, 0.75);
        Assert.InRange(agreement.Upper, 0.75, 0.98);
        var two = lines[1];
        Assert.Equal(("offline", 0L, 4L), (two.State, two.PartsHour, two.PartsDay));
        Assert.Empty(two.Agreement);

        var text = new StringWriter();
        await FleetReport.RunAsync(db, json: false, text);
        Assert.Contains("2 devices, 1 online", text.ToString(), StringComparison.Ordinal);
        Assert.Contains("6/8", text.ToString(), StringComparison.Ordinal);
    }
}
