using System.Diagnostics;
using System.Text;
using EdgeInspect.Cloud.Ingest;
using EdgeInspect.TestSupport;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Npgsql;
using Xunit;
using static EdgeInspect.Cloud.Tests.Ingest.IngestTesting;
using static EdgeInspect.TestSupport.Poll;

namespace EdgeInspect.Cloud.Tests.Ingest;

/// <summary>The ingest against a real PostgreSQL cluster and a real Mosquitto, with real device stores and outboxes.</summary>
public sealed class IngestWorkerTests(PostgresFixture pg) : IClassFixture<PostgresFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-ingest-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private Task<string> DatabaseAsync() => pg.Cluster!.CreateDatabaseAsync("t" + Guid.NewGuid().ToString("N")[..12]);

    [PostgresFact]
    public async Task Ingest_DeviceWaitsForAcks_EveryRecordStoredOnceAndOutboxEmpties()
    {
        await using var broker = await MosquittoBroker.LaunchAsync();
        var cs = await DatabaseAsync();
        var (worker, db) = await StartWorkerAsync(Options(cs, broker));
        await using var _ = db;
        await using var station = new SimulatedStation(_dir, broker.Host, broker.Port, "dev-a");
        await station.StartAsync();
        station.Append(300);
        await Until(() => station.Store.PendingCount == 0, TimeSpan.FromSeconds(30), "outbox drained by acks");
        await worker.StopAsync(CancellationToken.None);
        worker.Dispose();

        var (rows, distinct) = await CountAsync(cs, "dev-a");
        Assert.Equal(300, rows);
        Assert.Equal(300, distinct);
        Assert.Equal(300, station.Uplink.Sent);
        await using var cmd = db.CreateCommand("SELECT count(*) FROM device_status WHERE device_id = 'dev-a' AND state = 'online'");
        Assert.Equal(1L, await cmd.ExecuteScalarAsync());
    }

    [PostgresFact]
    public async Task Ingest_OneDeviceSendsRecordsArraysAnotherSingleRecords_BothStoredOnceAndBothOutboxesEmpty()
    {
        await using var broker = await MosquittoBroker.LaunchAsync();
        var cs = await DatabaseAsync();
        var (worker, db) = await StartWorkerAsync(Options(cs, broker));
        await using var _ = db;
        await using var batching = new SimulatedStation(_dir, broker.Host, broker.Port, "dev-arr", configure: o =>
        {
            o.RecordsPerMessage = 50;
            o.MaxMessageBytes = 16 * 1024;
        });
        await using var legacy = new SimulatedStation(_dir, broker.Host, broker.Port, "dev-one");
        batching.Append(400);
        legacy.Append(100);
        await batching.StartAsync();
        await legacy.StartAsync();
        await Until(() => batching.Store.PendingCount == 0 && legacy.Store.PendingCount == 0, TimeSpan.FromSeconds(30), "both outboxes drained by acks");
        var received = worker.Received;
        await worker.StopAsync(CancellationToken.None);
        worker.Dispose();

        Assert.Equal((400L, 400L), await CountAsync(cs, "dev-arr"));
        Assert.Equal((100L, 100L), await CountAsync(cs, "dev-one"));
        Assert.Equal((400, 100), (batching.Uplink.Sent, legacy.Uplink.Sent));
        // two births, 100 single records, the arrays (at least 8, at most 20 when each holds 20 records or more under
        // 16 KiB) and whatever went again for want of an ack in time: far fewer messages than records
        Assert.InRange(received, 2 + 100 + 400 / 50, 2 + 100 + legacy.Uplink.Resent + 400 / 20 + batching.Uplink.Resent);
    }

    [Trait(TestCategories.Name, TestCategories.Slow)]
    [PostgresFact]
    public async Task Ingest_SigkilledMidBatchAndRestarted_NoRecordMissingNoneTwice()
    {
        await using var broker = await MosquittoBroker.LaunchAsync();
        var cs = await DatabaseAsync();
        await using var station = new SimulatedStation(_dir, broker.Host, broker.Port, "dev-k");
        await station.StartAsync();
        using var stop = new CancellationTokenSource();
        // 400 records/s: batches are in flight (received, not yet committed or acknowledged) at any instant
        var producer = Task.Run(() => station.ProduceAsync(TimeSpan.FromMilliseconds(10), 4, stop.Token));

        var first = StartIngestProcess(cs, broker);
        try
        {
            await Until(() => station.Uplink.Sent > 500, TimeSpan.FromSeconds(60), "records acknowledged by the first ingest");
            first.Kill(); // SIGKILL, mid-flow
            await first.WaitForExitAsync();
            var atKill = station.Appended;
            await Task.Delay(2000);
            Assert.True(station.Store.PendingCount > 0, "records kept pending while the ingest is dead");
        }
        finally
        {
            if (!first.HasExited) first.Kill();
        }
        using var second = StartIngestProcess(cs, broker);
        try
        {
            await Task.Delay(2000);
            await stop.CancelAsync();
            await producer;
            await Until(() => station.Store.PendingCount == 0, TimeSpan.FromSeconds(60), "outbox drained after the restart");
        }
        finally
        {
            second.Kill();
            await second.WaitForExitAsync();
            first.Dispose();
        }
        var sequences = await SequencesAsync(cs, "dev-k");
        Assert.Equal(Enumerable.Range(1, (int)station.Appended).Select(i => (long)i), sequences);
    }

    [Trait(TestCategories.Name, TestCategories.Slow)]
    [PostgresFact]
    public async Task Ingest_OfflineFifteenSecondsWhileDeviceRuns_AllRecordsArriveAfterItReturns()
    {
        // The outage is 60 s; 15 s here shows the same thing (the device keeps every record pending and
        // re-sends with backoff) in a quarter of the time.
        await using var broker = await MosquittoBroker.LaunchAsync();
        var cs = await DatabaseAsync();
        var (worker, db) = await StartWorkerAsync(Options(cs, broker, "ingest-1"));
        await using var _ = db;
        await using var station = new SimulatedStation(_dir, broker.Host, broker.Port, "dev-o");
        await station.StartAsync();
        using var stop = new CancellationTokenSource();
        var producer = Task.Run(() => station.ProduceAsync(TimeSpan.FromMilliseconds(100), 1, stop.Token));
        await Until(() => station.Uplink.Sent >= 10, TimeSpan.FromSeconds(20), "first acks");
        await worker.StopAsync(CancellationToken.None);
        worker.Dispose();
        var before = station.Appended;
        await Task.Delay(TimeSpan.FromSeconds(15));
        Assert.True(station.Appended - before >= 100, "parts kept flowing during the outage");
        Assert.True(station.Store.PendingCount >= 100, $"records made during the outage stay pending ({station.Store.PendingCount})");

        var (again, db2) = await StartWorkerAsync(Options(cs, broker, "ingest-2"));
        await using var __ = db2;
        await Task.Delay(1000);
        await stop.CancelAsync();
        await producer;
        await Until(() => station.Store.PendingCount == 0, TimeSpan.FromSeconds(30), "outbox drained after the ingest returned");
        await again.StopAsync(CancellationToken.None);
        again.Dispose();
        var sequences = await SequencesAsync(cs, "dev-o");
        Assert.Equal(Enumerable.Range(1, (int)station.Appended).Select(i => (long)i), sequences);
    }

    [Trait(TestCategories.Name, TestCategories.Slow)]
    [PostgresFact]
    public async Task Ingest_TwoInstancesOnOneSharedSubscription_LoadSplitNothingLostOrDoubled()
    {
        await using var broker = await MosquittoBroker.LaunchAsync();
        var cs = await DatabaseAsync();
        var (a, dbA) = await StartWorkerAsync(Options(cs, broker, "ingest-a"));
        var (b, dbB) = await StartWorkerAsync(Options(cs, broker, "ingest-b"));
        await using var _ = dbA;
        await using var __ = dbB;
        var stations = new List<SimulatedStation>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                var s = new SimulatedStation(_dir, broker.Host, broker.Port, $"dev-s{i}");
                stations.Add(s);
                await s.StartAsync();
            }
            foreach (var s in stations) s.Append(250);
            await Until(() => stations.All(s => s.Store.PendingCount == 0), TimeSpan.FromSeconds(60), "every outbox drained");
        }
        finally
        {
            foreach (var s in stations) await s.DisposeAsync();
            await a.StopAsync(CancellationToken.None);
            await b.StopAsync(CancellationToken.None);
        }
        // Mosquitto deals a shared subscription's messages round-robin: each instance took a real share.
        Assert.True(a.Inserted >= 100 && b.Inserted >= 100, $"load split: instance a stored {a.Inserted}, b {b.Inserted}");
        Assert.Equal(1000, a.Inserted + b.Inserted);
        foreach (var s in stations)
        {
            Assert.Equal(Enumerable.Range(1, 250).Select(i => (long)i), await SequencesAsync(cs, s.DeviceId));
        }
        a.Dispose();
        b.Dispose();
    }

    [PostgresFact]
    public async Task Ingest_MalformedAndOversizedMessages_GoToDeadLettersWithReasonAndIngestGoesOn()
    {
        await using var broker = await MosquittoBroker.LaunchAsync();
        var cs = await DatabaseAsync();
        var options = Options(cs, broker);
        options.MaxPayloadBytes = 4096;
        var (worker, db) = await StartWorkerAsync(options);
        await using var _ = db;
        using var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(broker.Host, broker.Port).WithProtocolVersion(MqttProtocolVersion.V500).Build());
        async Task Send(string topic, byte[] payload) =>
            await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await Send("edgeinspect/dev-x/records", "{not json"u8.ToArray());
        await Send("edgeinspect/dev-x/records", new byte[10_000]);
        await Send("edgeinspect/dev-x/records", """{"deviceId":"dev-y","sequence":1,"capturedAt":"2026-12-02T00:00:00Z"}"""u8.ToArray());
        await Send("edgeinspect/dev-x/records", """{"deviceId":"dev-x","sequence":2,"capturedAt":"2026-12-02T00:00:00Z","station":"a\u0000b"}"""u8.ToArray());
        await Send("edgeinspect/dev-x/records", """{"deviceId":"dev-x","sequence":1,"storeEpoch":"e1","capturedAt":"2026-12-02T00:00:00Z","verdict":"ok"}"""u8.ToArray());

        string[] reasons = [];
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(20))
        {
            await using var cmd = db.CreateCommand("SELECT reason FROM dead_letters ORDER BY id");
            var list = new List<string>();
            await using (var r = await cmd.ExecuteReaderAsync()) while (await r.ReadAsync()) list.Add(r.GetString(0));
            reasons = [.. list];
            if (reasons.Length >= 4 && (await CountAsync(cs, "dev-x")).Rows == 1) break;
            await Task.Delay(100);
        }
        await worker.StopAsync(CancellationToken.None);
        worker.Dispose();
        Assert.Equal(4, reasons.Length);
        Assert.Contains(reasons, r => r.StartsWith("not JSON", StringComparison.Ordinal));
        Assert.Contains(reasons, r => r.StartsWith("oversized: 10000 bytes", StringComparison.Ordinal));
        Assert.Contains(reasons, r => r.Contains("is not the topic's device", StringComparison.Ordinal));
        Assert.Contains(reasons, r => r.Contains("\\u0000", StringComparison.Ordinal));
        // the valid record after them was stored: the ingest did not stop
        Assert.Equal((1L, 1L), await CountAsync(cs, "dev-x"));
        await using var size = db.CreateCommand("SELECT size, length(payload) FROM dead_letters WHERE reason LIKE 'oversized%'");
        await using var sr = await size.ExecuteReaderAsync();
        Assert.True(await sr.ReadAsync());
        Assert.Equal(10_000, sr.GetInt32(0));
        Assert.Equal(options.DeadLetterKeepBytes, sr.GetInt32(1));
    }

    private static Process StartIngestProcess(string cs, MosquittoBroker broker)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "edgeinspect-cloud.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { dll, "ingest", "--Ingest:ConnectionString", cs, "--Ingest:BrokerHost", broker.Host,
                     "--Ingest:BrokerPort", broker.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--Ingest:RetentionDays", "0" })
        {
            psi.ArgumentList.Add(a);
        }
        var p = Process.Start(psi) ?? throw new InvalidOperationException("dotnet did not start");
        var log = new StringBuilder();
        p.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }
}
