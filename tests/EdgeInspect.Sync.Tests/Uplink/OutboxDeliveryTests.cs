using System.Collections.Concurrent;
using System.Text.Json;
using EdgeInspect.Core.Domain;
using EdgeInspect.Fleet.Protocol.Ingest;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.Sync.Mqtt;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Sync.Tests.Uplink;

/// <summary>What counts as delivery (Uplink:Delivery), against a real Mosquitto.</summary>
public sealed class OutboxDeliveryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-delivery-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static InspectionRecord Record(string device, long seq, string? failReason = null) => new()
    {
        DeviceId = device, Station = "st-1", Sequence = seq, CapturedAt = DateTimeOffset.UnixEpoch.AddSeconds(seq),
        DecidedAt = DateTimeOffset.UnixEpoch.AddSeconds(seq), Mode = AutomationMode.Full, Verdict = Verdict.Ok, VerdictSource = VerdictSource.Model,
        FailReason = failReason,
    };

    private static MqttUplinkOptions Options(MosquittoBroker broker, string device, string delivery) => new()
    {
        Host = broker.Host, Port = broker.Port, DeviceId = device, Delivery = delivery, MinBackoffSeconds = 0.1, MaxBackoffSeconds = 0.5,
        PingIntervalSeconds = 0.5, ResendAfterSeconds = 0.5, MaxResendBackoffSeconds = 1, ParkAfterRefusals = 3,
    };

    /// <summary>A cloud-side subscriber to <paramref name="device"/>'s records, connected and subscribed; the sequences it receives go into <paramref name="arrivals"/>.</summary>
    private static async Task<DeviceMqttConnection> CloudSubscriberAsync(MosquittoBroker broker, string device, ConcurrentQueue<long> arrivals)
    {
        var cloud = new DeviceMqttConnection(new MqttUplinkOptions
        {
            Host = broker.Host, Port = broker.Port, DeviceId = "cloud", TopicPrefix = "cloudside", MinBackoffSeconds = 0.1, MaxBackoffSeconds = 0.5,
        });
        cloud.Subscribe($"edgeinspect/{device}/records", (m, _) =>
        {
            arrivals.Enqueue(JsonDocument.Parse(m.Payload).RootElement.GetProperty("sequence").GetInt64());
            return Task.CompletedTask;
        });
        await cloud.StartAsync();
        Assert.True(await cloud.WaitConnectedAsync(TimeSpan.FromSeconds(10)));
        await Task.Delay(300); // the subscription reaches the broker before the device's first publish
        return cloud;
    }

    private static async Task Until(Func<bool> condition, TimeSpan timeout, string what)
    {
        var end = DateTime.UtcNow + timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < end, "timed out waiting for " + what);
            await Task.Delay(20);
        }
    }

    [MosquittoFact]
    public async Task Drain_IngestAckModeAndNoIngestSubscribed_PubackNoSubscribersDeletesNothing()
    {
        await using var broker = await MosquittoBroker.LaunchAsync();
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(_dir, "a.db") });
        var options = Options(broker, "dev-n", MqttUplinkOptions.IngestAck);
        await using var device = new DeviceMqttConnection(options);
        await using var uplink = new OutboxUplink(store, device, options);
        await device.StartAsync();
        await uplink.StartAsync();
        Assert.True(await device.WaitConnectedAsync(TimeSpan.FromSeconds(10)));
        for (var i = 1; i <= 50; i++) store.Append(Record("dev-n", i));
        await Until(() => uplink.NoSubscribers >= 2, TimeSpan.FromSeconds(15), "the broker's 0x10 answers (a first try and a resend)");
        Assert.Equal(50, store.PendingCount);
        Assert.Equal(0, uplink.Sent);
    }

    [MosquittoFact]
    public async Task Drain_BrokerPubackModeAndNobodySubscribed_RecordsStayPendingUntilASubscriberComes()
    {
        await using var broker = await MosquittoBroker.LaunchAsync();
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(_dir, "b.db") });
        var options = Options(broker, "dev-b", MqttUplinkOptions.BrokerPuback);
        await using var device = new DeviceMqttConnection(options);
        await using var uplink = new OutboxUplink(store, device, options);
        await device.StartAsync();
        await uplink.StartAsync();
        Assert.True(await device.WaitConnectedAsync(TimeSpan.FromSeconds(10)));
        for (var i = 1; i <= 20; i++) store.Append(Record("dev-b", i));
        await Until(() => uplink.NoSubscribers >= 1, TimeSpan.FromSeconds(10), "the broker's 0x10 answer");
        Assert.Equal(20, store.PendingCount);

        var arrivals = new ConcurrentQueue<long>();
        await using var cloud = new DeviceMqttConnection(new MqttUplinkOptions { Host = broker.Host, Port = broker.Port, DeviceId = "cloud", TopicPrefix = "cloudside" });
        cloud.Subscribe("edgeinspect/dev-b/records", (m, _) =>
        {
            arrivals.Enqueue(JsonDocument.Parse(m.Payload).RootElement.GetProperty("sequence").GetInt64());
            return Task.CompletedTask;
        });
        await cloud.StartAsync();
        await Until(() => store.PendingCount == 0, TimeSpan.FromSeconds(20), "outbox drained once a subscriber is there");
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), arrivals.Distinct().Order());
    }

    [MosquittoFact]
    public async Task Drain_IngestAcksOnlySomeRecords_OnlyThoseLeaveAndTheOthersAreSentAgain()
    {
        await using var broker = await MosquittoBroker.LaunchAsync();
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(_dir, "c.db") });
        var options = Options(broker, "dev-c", MqttUplinkOptions.IngestAck);
        // A stand-in ingest that acknowledges odd sequence numbers only (a real one acks what it committed).
        var seen = new ConcurrentDictionary<long, int>();
        await using var ingest = new DeviceMqttConnection(new MqttUplinkOptions { Host = broker.Host, Port = broker.Port, DeviceId = "ingest", TopicPrefix = "cloudside" });
        ingest.Subscribe("edgeinspect/dev-c/records", async (m, ct) =>
        {
            var root = JsonDocument.Parse(m.Payload).RootElement;
            var seq = root.GetProperty("sequence").GetInt64();
            seen.AddOrUpdate(seq, 1, (_, n) => n + 1);
            if (seq % 2 == 1)
            {
                await ingest.PublishAsync("edgeinspect/dev-c/ack", new IngestAck(root.GetProperty("storeEpoch").GetString()!, [[seq, seq]]).ToJson(), null, ct);
            }
            // an ack for another epoch covers nothing here
            await ingest.PublishAsync("edgeinspect/dev-c/ack", new IngestAck("other-epoch", [[1, 1000]]).ToJson(), null, ct);
        });
        await ingest.StartAsync();
        Assert.True(await ingest.WaitConnectedAsync(TimeSpan.FromSeconds(10)));
        await Task.Delay(300);
        await using var device = new DeviceMqttConnection(options);
        await using var uplink = new OutboxUplink(store, device, options);
        await device.StartAsync();
        await uplink.StartAsync();
        for (var i = 1; i <= 20; i++) store.Append(Record("dev-c", i));
        await Until(() => store.PendingCount == 10, TimeSpan.FromSeconds(15), "the 10 acknowledged records removed");
        await Until(() => Enumerable.Range(1, 10).All(k => seen.GetValueOrDefault(2 * k) >= 2), TimeSpan.FromSeconds(15), "unacknowledged records sent again");
        Assert.Equal(10, uplink.Sent);
        Assert.Equal(Enumerable.Range(1, 10).Select(k => (long)(2 * k)), store.ReadBatch(0, 100).Select(i => i.Offset));
    }

    [MosquittoFact]
    public async Task Drain_RecordsPerMessage_ArraysWithinTheLimitsAndOnlyAcknowledgedRecordsLeave()
    {
        await using var broker = await MosquittoBroker.LaunchAsync();
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(_dir, "arr.db") });
        var options = Options(broker, "dev-arr", MqttUplinkOptions.IngestAck);
        options.RecordsPerMessage = 25;
        options.MaxMessageBytes = 4096;
        // A stand-in ingest that reads both forms and acknowledges every record but sequence 7.
        var messages = new ConcurrentQueue<byte[]>();
        var seen = new ConcurrentDictionary<long, int>();
        await using var ingest = new DeviceMqttConnection(new MqttUplinkOptions { Host = broker.Host, Port = broker.Port, DeviceId = "ingest", TopicPrefix = "cloudside" });
        ingest.Subscribe("edgeinspect/dev-arr/records", async (m, ct) =>
        {
            messages.Enqueue(m.Payload.ToArray());
            using var doc = JsonDocument.Parse(m.Payload);
            var records = doc.RootElement.ValueKind == JsonValueKind.Array ? [.. doc.RootElement.EnumerateArray()] : new[] { doc.RootElement };
            var acked = new List<long>();
            foreach (var r in records)
            {
                var seq = r.GetProperty("sequence").GetInt64();
                seen.AddOrUpdate(seq, 1, (_, n) => n + 1);
                if (seq != 7) acked.Add(seq);
            }
            var epoch = records[0].GetProperty("storeEpoch").GetString()!;
            if (acked.Count > 0) await ingest.PublishAsync("edgeinspect/dev-arr/ack", new IngestAck(epoch, IngestAck.ToRanges(acked)).ToJson(), null, ct);
        });
        await ingest.StartAsync();
        Assert.True(await ingest.WaitConnectedAsync(TimeSpan.FromSeconds(10)));
        await Task.Delay(300);
        for (var i = 1; i <= 100; i++) store.Append(Record("dev-arr", i));
        store.Append(Record("dev-arr", 101, failReason: new string('x', 5000))); // larger than MaxMessageBytes on its own
        await using var device = new DeviceMqttConnection(options);
        await using var uplink = new OutboxUplink(store, device, options);
        await device.StartAsync();
        await uplink.StartAsync();

        await Until(() => store.PendingCount == 1, TimeSpan.FromSeconds(15), "every record but 7 acknowledged and removed");
        await Until(() => seen.GetValueOrDefault(7) >= 2, TimeSpan.FromSeconds(15), "the unacknowledged record sent again");

        Assert.Equal([7L], store.ReadBatch(0, 10).Select(i => i.Offset));
        Assert.Equal(100, uplink.Sent);
        var arrays = messages.Where(m => m[0] == (byte)'[').ToList();
        Assert.All(arrays, m => Assert.True(m.Length <= options.MaxMessageBytes, $"an array of {m.Length} bytes"));
        Assert.All(arrays, m => Assert.InRange(JsonDocument.Parse(m).RootElement.GetArrayLength(), 2, options.RecordsPerMessage));
        Assert.Contains(messages, m => m[0] == (byte)'{' && JsonDocument.Parse(m).RootElement.GetProperty("sequence").GetInt64() == 101);
        // the first sends of the 101 records took a handful of messages, not one each
        var first = new HashSet<long>();
        var introducing = 0;
        foreach (var m in messages)
        {
            var root = JsonDocument.Parse(m).RootElement;
            var sequences = root.ValueKind == JsonValueKind.Array ? root.EnumerateArray().Select(r => r.GetProperty("sequence").GetInt64()).ToList() : [root.GetProperty("sequence").GetInt64()];
            var fresh = false;
            foreach (var seq in sequences) fresh |= first.Add(seq);
            if (fresh) introducing++;
        }
        Assert.InRange(introducing, 101 / options.RecordsPerMessage + 1, 101 / 10);
    }

    [MosquittoFact]
    public async Task Drain_IngestAcksInOrderSlowerThanResendAfter_NothingSentTwiceWhileAcksKeepComing()
    {
        await using var broker = await MosquittoBroker.LaunchAsync();
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(_dir, "slow.db") });
        var options = Options(broker, "dev-s", MqttUplinkOptions.IngestAck);
        options.ResendAfterSeconds = 1;
        options.MaxResendBackoffSeconds = 2;
        // A stand-in ingest working through its queue in order, one record per 200 ms: the last of 20 records waits
        // 4 s for its ack, four times ResendAfterSeconds, yet an ack comes every 200 ms.
        var queue = new ConcurrentQueue<(long Sequence, string Epoch)>();
        var seen = new ConcurrentDictionary<long, int>();
        await using var ingest = new DeviceMqttConnection(new MqttUplinkOptions { Host = broker.Host, Port = broker.Port, DeviceId = "ingest", TopicPrefix = "cloudside" });
        ingest.Subscribe("edgeinspect/dev-s/records", (m, _) =>
        {
            var root = JsonDocument.Parse(m.Payload).RootElement;
            var seq = root.GetProperty("sequence").GetInt64();
            seen.AddOrUpdate(seq, 1, (_, n) => n + 1);
            queue.Enqueue((seq, root.GetProperty("storeEpoch").GetString()!));
            return Task.CompletedTask;
        });
        await ingest.StartAsync();
        Assert.True(await ingest.WaitConnectedAsync(TimeSpan.FromSeconds(10)));
        await Task.Delay(300);
        using var stop = new CancellationTokenSource();
        var acker = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(200);
                if (queue.TryDequeue(out var r)) await ingest.PublishAsync("edgeinspect/dev-s/ack", new IngestAck(r.Epoch, [[r.Sequence, r.Sequence]]).ToJson());
            }
        });
        for (var i = 1; i <= 20; i++) store.Append(Record("dev-s", i));
        await using var device = new DeviceMqttConnection(options);
        await using var uplink = new OutboxUplink(store, device, options);
        await device.StartAsync();
        await uplink.StartAsync();

        await Until(() => store.PendingCount == 0, TimeSpan.FromSeconds(30), "every record acknowledged");
        await stop.CancelAsync();
        await acker;

        Assert.Equal(0, uplink.Resent);
        Assert.All(Enumerable.Range(1, 20), i => Assert.Equal(1, seen[i]));
    }

    [MosquittoFact]
    public async Task Drain_BrokerRefusesOneRecord_ItIsParkedAndKeptWhileTheRestAreDelivered()
    {
        // message_size_limit makes Mosquitto answer an MQTT 5 QoS 1 publish over it with PUBACK 0x95 (packet too large).
        await using var broker = await MosquittoBroker.LaunchAsync("message_size_limit 2048");
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(_dir, "d.db") });
        var options = Options(broker, "dev-p", MqttUplinkOptions.BrokerPuback);
        var arrivals = new ConcurrentQueue<long>();
        await using var cloud = await CloudSubscriberAsync(broker, "dev-p", arrivals);
        await using var device = new DeviceMqttConnection(options);
        await using var uplink = new OutboxUplink(store, device, options);
        await device.StartAsync();
        await uplink.StartAsync();
        for (var i = 1; i <= 10; i++) store.Append(Record("dev-p", i, i == 3 ? new string('x', 4000) : null));
        await Until(() => uplink.Parked == 1 && store.PendingCount == 1, TimeSpan.FromSeconds(20), "record 3 parked, the others delivered");
        Assert.Equal(3, store.ParkedItems().Single().Sequence);
        Assert.Empty(store.ReadBatch(0, 10)); // kept and pending, but no longer handed out
        Assert.Equal(options.ParkAfterRefusals, uplink.Refused);
        for (var i = 11; i <= 15; i++) store.Append(Record("dev-p", i));
        await Until(() => arrivals.Distinct().Count() == 14, TimeSpan.FromSeconds(10), "later records delivered past the parked one");
        Assert.DoesNotContain(3L, arrivals);
    }

    [MosquittoFact]
    public async Task Drain_ParkedRecordAfterARestart_StillParkedNotSentAgainAndShownInStats()
    {
        await using var broker = await MosquittoBroker.LaunchAsync("message_size_limit 2048");
        var path = Path.Combine(_dir, "r.db");
        var options = Options(broker, "dev-r", MqttUplinkOptions.BrokerPuback);
        var arrivals = new ConcurrentQueue<long>();
        await using var cloud = await CloudSubscriberAsync(broker, "dev-r", arrivals);
        using (var store = new LiteDbInspectionStore(new StoreOptions { Path = path }))
        {
            await using var device = new DeviceMqttConnection(options);
            await using var uplink = new OutboxUplink(store, device, options);
            await device.StartAsync();
            await uplink.StartAsync();
            for (var i = 1; i <= 5; i++) store.Append(Record("dev-r", i, i == 2 ? new string('x', 4000) : null));
            await Until(() => store.ParkedCount == 1 && store.PendingCount == 1, TimeSpan.FromSeconds(20), "record 2 parked, the others delivered");
            await uplink.StopAsync();
            await device.StopAsync();
        }

        // The station restarts: the parked record is neither forgotten nor tried again.
        using var reopened = new LiteDbInspectionStore(new StoreOptions { Path = path });
        await using var device2 = new DeviceMqttConnection(options);
        await using var uplink2 = new OutboxUplink(reopened, device2, options);
        await device2.StartAsync();
        await uplink2.StartAsync();
        Assert.True(await device2.WaitConnectedAsync(TimeSpan.FromSeconds(10)));
        reopened.Append(Record("dev-r", 6));
        await Until(() => arrivals.Contains(6), TimeSpan.FromSeconds(10), "a record after the restart delivered");
        Assert.Equal(0, uplink2.Refused);
        Assert.DoesNotContain(2L, arrivals);
        var stats = reopened.Statistics();
        Assert.Equal(1, stats.PendingUplink);
        Assert.Equal(1, stats.ParkedUplink);
        var (sequence, reason) = Assert.Single(reopened.ParkedItems());
        Assert.Equal(2, sequence);
        Assert.StartsWith($"the broker refused it {options.ParkAfterRefusals} times", reason);
        Assert.True(reopened.Records().Any(r => r.Sequence == 2), "the parked record is kept");
    }
    [MosquittoFact]
    public async Task Drain_ParkedRecordAfterTheBrokersLimitIsRaised_TriedAgainAndDelivered()
    {
        await using var broker = await MosquittoBroker.LaunchAsync("message_size_limit 2048");
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(_dir, "u.db") });
        var options = Options(broker, "dev-u", MqttUplinkOptions.BrokerPuback);
        options.RetryParkedAfterSeconds = 2;
        var arrivals = new ConcurrentQueue<long>();
        await using var cloud = await CloudSubscriberAsync(broker, "dev-u", arrivals);
        await using var device = new DeviceMqttConnection(options);
        await using var uplink = new OutboxUplink(store, device, options);
        await device.StartAsync();
        await uplink.StartAsync();
        for (var i = 1; i <= 5; i++) store.Append(Record("dev-u", i, i == 2 ? new string('x', 4000) : null));
        await Until(() => store.ParkedCount == 1 && store.PendingCount == 1, TimeSpan.FromSeconds(20), "record 2 parked, the others delivered");

        // The broker's operator raises the size limit; the next retry of the parked records delivers it.
        await broker.StopAsync();
        File.WriteAllText(broker.ConfigPath, File.ReadAllText(broker.ConfigPath).Replace("message_size_limit 2048", ""));
        await broker.StartAsync();

        await Until(() => arrivals.Contains(2) && store.PendingCount == 0, TimeSpan.FromSeconds(30), "the parked record tried again and delivered");
        Assert.True(uplink.ParkedRetried >= 1);
        Assert.Equal(0, store.ParkedCount);
        Assert.Equal([1L, 2, 3, 4, 5], arrivals.Distinct().Order());
    }
}
