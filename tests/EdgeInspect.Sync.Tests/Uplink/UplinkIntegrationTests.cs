using System.Collections.Concurrent;
using System.Text.Json;
using EdgeInspect.Core.Domain;
using EdgeInspect.Fleet.Protocol.Topics;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.Sync.Mqtt;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Sync.Tests.Uplink;

public sealed class UplinkIntegrationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-sync-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static InspectionRecord Record(long seq) => new()
    {
        DeviceId = "dev-1", Station = "st-1", Sequence = seq, CapturedAt = DateTimeOffset.UnixEpoch.AddSeconds(seq),
        DecidedAt = DateTimeOffset.UnixEpoch.AddSeconds(seq), Mode = AutomationMode.Full, Verdict = Verdict.Ok, VerdictSource = VerdictSource.Model,
    };

    /// <summary>A "cloud" subscriber: its own connection, fast reconnect, re-subscribes after each connect.</summary>
    private static DeviceMqttConnection Cloud(MosquittoBroker broker, string filter, Action<string, byte[]> onMessage, out Func<bool> subscribed)
    {
        var cloud = new DeviceMqttConnection(new MqttUplinkOptions
        {
            Host = broker.Host, Port = broker.Port, DeviceId = "cloud", TopicPrefix = "cloudside", MinBackoffSeconds = 0.05, MaxBackoffSeconds = 0.1, PingIntervalSeconds = 0.5,
        });
        var ready = 0;
        cloud.Connected += _ => { Volatile.Write(ref ready, 1); return Task.CompletedTask; };
        cloud.Disconnected += () => Volatile.Write(ref ready, 0);
        cloud.Subscribe(filter, (m, _) => { onMessage(m.Topic, m.Payload.ToArray()); return Task.CompletedTask; });
        subscribed = () => Volatile.Read(ref ready) == 1 && cloud.IsConnected;
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

    [Trait(TestCategories.Name, TestCategories.Slow)]
    [MosquittoFact]
    public async Task Drain_BrokerDownTwentySecondsWhilePartsFlow_EveryRecordArrivesOnceAfterDedupeAndLiveNotStarved()
    {
        await using var broker = await MosquittoBroker.LaunchAsync();
        var arrivals = new ConcurrentQueue<long>();
        await using var cloud = Cloud(broker, "edgeinspect/dev-1/records", (_, p) =>
            arrivals.Enqueue(JsonDocument.Parse(p).RootElement.GetProperty("sequence").GetInt64()), out var subscribed);
        await cloud.StartAsync();
        await Until(subscribed, TimeSpan.FromSeconds(10), "cloud subscription");

        using var store = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(_dir, "s.db") });
        // The device reconnects 1.5-3 s after the broker returns, after the cloud (0.05 s) has re-subscribed.
        var options = new MqttUplinkOptions { Host = broker.Host, Port = broker.Port, DeviceId = "dev-1", MinBackoffSeconds = 3, MaxBackoffSeconds = 3, PingIntervalSeconds = 0.5, BatchSize = 20, MaxInFlight = 8 };
        await using var device = new DeviceMqttConnection(options);
        await using var uplink = new OutboxUplink(store, device, options);
        await device.StartAsync();
        await uplink.StartAsync();
        await device.WaitConnectedAsync(TimeSpan.FromSeconds(10));

        long seq = 0;
        using var stop = new CancellationTokenSource();
        var producer = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                store.Append(Record(++seq));
                await Task.Delay(50);
            }
        });
        await Task.Delay(2000);
        await broker.StopAsync();
        var outageStartSeq = Volatile.Read(ref seq);
        await Task.Delay(TimeSpan.FromSeconds(20));
        var outageEndSeq = Volatile.Read(ref seq);
        await broker.StartAsync();
        await Until(subscribed, TimeSpan.FromSeconds(10), "cloud re-subscription");
        await Until(() => device.IsConnected, TimeSpan.FromSeconds(15), "device reconnect");
        var liveFrom = Volatile.Read(ref seq) + 1;
        await Task.Delay(2000);
        await stop.CancelAsync();
        await producer;
        var last = seq;
        await Until(() => store.PendingCount == 0, TimeSpan.FromSeconds(20), "outbox drained");
        await Until(() => arrivals.Distinct().Count() == last, TimeSpan.FromSeconds(10), $"all {last} records at the cloud");

        var all = arrivals.ToList();
        var firstArrival = all.Distinct().ToList();
        Assert.Equal(Enumerable.Range(1, (int)last).Select(i => (long)i), firstArrival.Order());
        Assert.True(outageEndSeq - outageStartSeq > 100, "parts kept flowing during the outage");
        // before the outage records went out in order
        var pre = firstArrival.Where(s => s < outageStartSeq - 5).ToList();
        Assert.Equal(pre.Order(), pre);
        // fair share: a record made late in the outage (the newest when the link came back) went out in the live lane
        // of the first rounds, not after the whole backlog (batch size 20; the backlog here is several batches)
        Assert.True(firstArrival.IndexOf(outageEndSeq) < firstArrival.IndexOf(outageStartSeq + 60),
            $"newest record {outageEndSeq} waited behind the backlog");
        _ = liveFrom;
    }

    [MosquittoFact]
    public async Task Replay_BrokerKilledAfterAcks_RecentlyAcknowledgedRecordsSentAgainAfterReconnect()
    {
        await using var broker = await MosquittoBroker.LaunchAsync();
        var arrivals = new ConcurrentQueue<long>();
        await using var cloud = Cloud(broker, "edgeinspect/dev-r/records", (_, p) =>
            arrivals.Enqueue(JsonDocument.Parse(p).RootElement.GetProperty("sequence").GetInt64()), out var subscribed);
        await cloud.StartAsync();
        await Until(subscribed, TimeSpan.FromSeconds(10), "cloud subscription");
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(_dir, "r.db") });
        var options = new MqttUplinkOptions { Host = broker.Host, Port = broker.Port, DeviceId = "dev-r", MinBackoffSeconds = 1.5, MaxBackoffSeconds = 1.5, PingIntervalSeconds = 0.5, ReplaySeconds = 60 };
        await using var device = new DeviceMqttConnection(options);
        await using var uplink = new OutboxUplink(store, device, options);
        await device.StartAsync();
        await uplink.StartAsync();
        for (var i = 1; i <= 10; i++) store.Append(Record(i));
        await Until(() => arrivals.Count == 10 && store.PendingCount == 0, TimeSpan.FromSeconds(10), "10 records acknowledged and delivered");

        // acknowledged records are gone from the outbox: only the replay can send them again.
        // The device waits ReplaySettleSeconds (1 s) after reconnecting before it replays, so the cloud, which lost
        // the broker too, has subscribed again (it reconnects within 0.05-0.1 s).
        await broker.StopAsync();
        await broker.StartAsync();
        await Until(() => uplink.Replayed == 10, TimeSpan.FromSeconds(20), "replay of the 10 acknowledged records");
        try
        {
            await Until(() => arrivals.Count == 20, TimeSpan.FromSeconds(15), "replayed records at the cloud");
        }
        catch (Xunit.Sdk.XunitException e)
        {
            throw new TimeoutException($"{e.Message}: {arrivals.Count} arrivals ({string.Join(",", arrivals)}), replayed {uplink.Replayed}, cloud subscribed {subscribed()}, device connected {device.IsConnected}, pending {store.PendingCount}", e);
        }
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), arrivals.Distinct().Order());
        Assert.All(arrivals.GroupBy(a => a), g => Assert.Equal(2, g.Count())); // duplicates the cloud drops by (deviceId, sequence)
    }

    [MosquittoFact]
    public async Task Status_ServiceKilled_BrokerPublishesDeathThenRestartPublishesBirth()
    {
        await using var broker = await MosquittoBroker.LaunchAsync();
        var states = new ConcurrentQueue<string>();
        await using var cloud = Cloud(broker, "edgeinspect/dev-kill/status", (_, p) =>
            states.Enqueue(JsonDocument.Parse(p).RootElement.GetProperty("state").GetString()!), out var subscribed);
        await cloud.StartAsync();
        await Until(subscribed, TimeSpan.FromSeconds(10), "cloud subscription");
        var db = Path.Combine(_dir, "k.db");
        string[] args = ["store", "soak", "--db", db, "--mqtt-host", broker.Host, "--mqtt-port", broker.Port.ToString(), "--device", "dev-kill", "--interval-ms", "50"];

        using (var child = EdgeInspectProcess.Start(args))
        {
            await Until(() => states.Contains("online"), TimeSpan.FromSeconds(20), "birth");
            child.Kill();
            await child.WaitForExitAsync();
        }
        await Until(() => states.LastOrDefault() == "offline", TimeSpan.FromSeconds(10), "death (last will)");
        var before = states.Count;
        using (var child = EdgeInspectProcess.Start(args))
        {
            await Until(() => states.Skip(before).Contains("online"), TimeSpan.FromSeconds(20), "fresh birth");
            child.Kill();
            await child.WaitForExitAsync();
        }
        Assert.Equal(["online", "offline"], states.Take(2));
    }

    [MosquittoFact]
    public async Task Subscribe_PayloadOverLimit_DroppedBeforeHandler()
    {
        await using var broker = await MosquittoBroker.LaunchAsync();
        var options = new MqttUplinkOptions { Host = broker.Host, Port = broker.Port, DeviceId = "dev-2", MaxPayloadBytes = 4096 };
        await using var device = new DeviceMqttConnection(options);
        var received = new ConcurrentQueue<int>();
        device.Subscribe(device.Topics.Under("cmd/+"), (m, _) => { received.Enqueue(m.Payload.Length); return Task.CompletedTask; });
        await device.StartAsync();
        Assert.True(await device.WaitConnectedAsync(TimeSpan.FromSeconds(10)));
        await Task.Delay(300);
        await using var peer = new DeviceMqttConnection(new MqttUplinkOptions { Host = broker.Host, Port = broker.Port, DeviceId = "peer" });
        await peer.StartAsync();
        Assert.True(await peer.WaitConnectedAsync(TimeSpan.FromSeconds(10)));
        Assert.True(await peer.PublishAsync(device.Topics.Command("ping"), new byte[100]));
        await peer.PublishAsync(device.Topics.Command("big"), new byte[50_000]);
        Assert.True(await peer.PublishAsync(device.Topics.Command("ping"), new byte[200]));
        await Until(() => received.Count >= 2, TimeSpan.FromSeconds(5), "small messages");
        Assert.Equal([100, 200], received);
    }

    [Theory]
    [InlineData("a+b")]
    [InlineData("a#")]
    [InlineData("a/b")]
    [InlineData("")]
    public void Topics_InvalidDeviceId_Rejected(string id)
    {
        Assert.Throws<ArgumentException>(() => new MqttTopics("edgeinspect", id));
        Assert.False(MqttTopics.IsValidId(id));
    }

    [Fact]
    public void Topics_DeviceIdWithLoneSurrogate_RejectedWhileASurrogatePairIsText()
    {
        string[] lone = ["dev-\ud800", "dev-\udc00x", "\ud83d"];

        Assert.All(lone, id => Assert.False(MqttTopics.IsValidId(id), id.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Throws<ArgumentException>(() => new MqttTopics("edgeinspect", lone[0]));
        Assert.True(MqttTopics.IsValidId("dev-\ud83d\ude00")); // one character outside the BMP, as UTF-8 carries it
    }

    [Fact]
    public void BackoffDelay_ManyFailures_GrowsAndStaysWithinJitteredCap()
    {
        var c = new DeviceMqttConnection(new MqttUplinkOptions { Host = "127.0.0.1", MinBackoffSeconds = 1, MaxBackoffSeconds = 8 }, jitter: new Random(7));
        for (var f = 0; f < 10; f++)
        {
            var exp = Math.Min(8, Math.Pow(2, f));
            var d = c.BackoffDelay(f).TotalSeconds;
            Assert.InRange(d, exp / 2, exp);
        }
    }
}
