using System.Collections.Concurrent;
using System.Text.Json;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;
using EdgeInspect.Core.Telemetry;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.Sync.Mqtt;
using EdgeInspect.Sync.Mqtt.Telemetry;
using EdgeInspect.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit;

namespace EdgeInspect.Sync.Tests.Telemetry;

/// <summary>Telemetry through a real Mosquitto: budget evictions in the next message, alarms stored and published.</summary>
public sealed class TelemetryIntegrationTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-telemetry-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static InspectionRecord Record(long seq, Verdict verdict, Verdict human, float confidence = 0.95f) => new()
    {
        DeviceId = "dev-t", Station = "st-1", Sequence = seq, PartId = "P" + seq, CapturedAt = T0.AddSeconds(seq), DecidedAt = T0.AddSeconds(seq),
        Mode = AutomationMode.Shadow, Verdict = human, VerdictSource = VerdictSource.Human, ModelVerdict = verdict, ModelConfidence = confidence,
        HumanVerdict = human, LatencyMs = new Dictionary<string, double> { ["total"] = 12 },
    };

    /// <summary>A cloud-side subscriber on the device's whole subtree: every message by topic, in arrival order.</summary>
    private static async Task<(DeviceMqttConnection Cloud, ConcurrentDictionary<string, ConcurrentQueue<JsonElement>> Inbox)> SubscribeAsync(MosquittoBroker broker)
    {
        var inbox = new ConcurrentDictionary<string, ConcurrentQueue<JsonElement>>();
        var cloud = new DeviceMqttConnection(new MqttUplinkOptions
        {
            Host = broker.Host, Port = broker.Port, DeviceId = "cloud", TopicPrefix = "cloudside", MinBackoffSeconds = 0.05, MaxBackoffSeconds = 0.1,
        });
        var subscribed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cloud.Connected += _ => { subscribed.TrySetResult(); return Task.CompletedTask; };
        cloud.Subscribe("edgeinspect/dev-t/#", (m, _) =>
        {
            inbox.GetOrAdd(m.Topic, _ => new ConcurrentQueue<JsonElement>()).Enqueue(JsonDocument.Parse(m.Payload).RootElement.Clone());
            return Task.CompletedTask;
        });
        await cloud.StartAsync();
        await subscribed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        return (cloud, inbox);
    }

    /// <summary>The next message on <paramref name="topic"/> (per-topic order; other topics are left for their own reads).</summary>
    private static async Task<JsonElement> NextAsync(ConcurrentDictionary<string, ConcurrentQueue<JsonElement>> inbox, string topic)
    {
        var end = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            if (inbox.TryGetValue(topic, out var q) && q.TryDequeue(out var json)) return json;
            Assert.True(DateTime.UtcNow < end, $"no message on {topic} within 10 s");
            await Task.Delay(20);
        }
    }

    private async Task<DeviceMqttConnection> DeviceAsync(MosquittoBroker broker)
    {
        var device = new DeviceMqttConnection(new MqttUplinkOptions { Host = broker.Host, Port = broker.Port, DeviceId = "dev-t", MinBackoffSeconds = 0.1, MaxBackoffSeconds = 0.2 });
        await device.StartAsync();
        Assert.True(await device.WaitConnectedAsync(TimeSpan.FromSeconds(10)), "device did not connect");
        return device;
    }

    [Fact]
    public async Task PublishOnce_StoreHoldsAParkedRecord_CountedAlarmRaisedAndStoredThenClearedWhenItIsGone()
    {
        var path = Path.Combine(_dir, "p.db");
        using (var store = new LiteDbInspectionStore(new StoreOptions { Path = path }))
        {
            for (long seq = 1; seq <= 3; seq++) store.Append(Record(seq, Verdict.Ok, Verdict.Ok));
            var recorder = new TelemetryRecorder("dev-t", thermalRoot: "/nonexistent");
            using var publisher = new TelemetryPublisher(recorder, store, store, null, new TelemetryOptions { IntervalSeconds = 0 });
            Assert.Equal(0, (await publisher.PublishOnceAsync()).ParkedRecords);

            Assert.True(store.Park(2, "the broker refused it 5 times"));
            var parked = await publisher.PublishOnceAsync();
            Assert.Equal(1, parked.ParkedRecords);
            Assert.Equal(1, parked.Metrics()["parkedRecords"]);
            Assert.Contains(TelemetryPublisher.ParkedAlarm, parked.ActiveAlarms);
            var raised = Assert.Single(store.AuditEvents(), a => a.Kind == "alarm.raised");
            Assert.Equal(TelemetryPublisher.ParkedAlarm, raised.To);
            Assert.Equal(3, store.PendingCount); // nothing was sent; the parked one is pending too
        }

        // After a restart the alarm is still raised (no second event), until the parked record leaves the store.
        using var reopened = new LiteDbInspectionStore(new StoreOptions { Path = path });
        using var again = new TelemetryPublisher(new TelemetryRecorder("dev-t", thermalRoot: "/nonexistent"), reopened, reopened, null,
            new TelemetryOptions { IntervalSeconds = 0 });
        Assert.Contains(TelemetryPublisher.ParkedAlarm, (await again.PublishOnceAsync()).ActiveAlarms);
        Assert.Single(reopened.AuditEvents(), a => a.Kind == "alarm.raised");
        reopened.Remove(2);
        var cleared = await again.PublishOnceAsync();
        Assert.Equal(0, cleared.ParkedRecords);
        Assert.Empty(cleared.ActiveAlarms);
        Assert.Single(reopened.AuditEvents(), a => a.Kind == "alarm.cleared" && a.To == TelemetryPublisher.ParkedAlarm);
    }

    /// <summary>The part-image counters as a station's capture, writer, folder and upload would report them.</summary>
    private sealed class FixedImageCounters(PartImageTelemetry counters) : IPartImageCounters
    {
        public PartImageTelemetry Read() => counters;
    }

    [Fact]
    public async Task PublishOnce_WithPartImageCounters_InTheStoredSnapshotAndItsMetrics()
    {
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(_dir, "i.db") });
        var counters = new PartImageTelemetry(Captured: 40, Dropped: 2, Evicted: 3, Uploaded: 30, Pending: 5, PendingBytes: 95_000);
        using var publisher = new TelemetryPublisher(new TelemetryRecorder("dev-t", thermalRoot: "/nonexistent"), store, store, null,
            new TelemetryOptions { IntervalSeconds = 0 }, images: new FixedImageCounters(counters));

        var snapshot = await publisher.PublishOnceAsync();

        Assert.Equal(counters, snapshot.Images);
        var metrics = snapshot.Metrics();
        Assert.Equal((40d, 2d, 3d, 30d, 5d, 95_000d), (metrics["images.captured"], metrics["images.dropped"], metrics["images.evicted"],
            metrics["images.uploaded"], metrics["images.pending"], metrics["images.pendingBytes"]));
        var stored = JsonDocument.Parse(Assert.Single(store.TelemetrySnapshots())).RootElement.GetProperty("images");
        Assert.Equal(30, stored.GetProperty("uploaded").GetInt64());
        Assert.Equal(5, stored.GetProperty("pending").GetInt64());
    }

    [Fact]
    public async Task PublishOnce_WithoutPartImageCounters_NoImagesAndNoImageMetrics()
    {
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(_dir, "n.db") });
        using var publisher = new TelemetryPublisher(new TelemetryRecorder("dev-t", thermalRoot: "/nonexistent"), store, store, null,
            new TelemetryOptions { IntervalSeconds = 0 });

        var snapshot = await publisher.PublishOnceAsync();

        Assert.Null(snapshot.Images);
        Assert.DoesNotContain(snapshot.Metrics().Keys, k => k.StartsWith("images.", StringComparison.Ordinal));
    }

    [MosquittoFact]
    [Trait(TestCategories.Name, TestCategories.Slow)]
    public async Task Budget_StoreFilledPastBudget_EvictionsByPolicyInTheNextTelemetryMessage()
    {
        await using var broker = await MosquittoBroker.LaunchAsync();
        var (cloud, inbox) = await SubscribeAsync(broker);
        await using var _ = cloud;
        await using var device = await DeviceAsync(broker);
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(_dir, "t.db"), BudgetBytes = StoreOptions.MinBudgetBytes, LowConfidence = 0.7 });
        var recorder = new TelemetryRecorder("dev-t", thermalRoot: "/nonexistent");
        using var publisher = new TelemetryPublisher(recorder, store, store, device, new TelemetryOptions { IntervalSeconds = 0 });

        await publisher.PublishOnceAsync();
        var first = await NextAsync(inbox, "edgeinspect/dev-t/telemetry");
        Assert.All(first.GetProperty("evictions").GetProperty("sinceLast").EnumerateObject(), p => Assert.Equal(0, p.Value.GetInt64()));

        // 3000 parts: 1 in 10 a disagreement, 1 in 10 low confidence, 2 in 10 NG, the rest agreed OK; past a 1 MiB file
        var keepLongest = new List<long>();
        for (long seq = 1; seq <= 3000; seq++)
        {
            var r = (seq % 10) switch
            {
                0 => Record(seq, Verdict.Ok, Verdict.Ng),
                1 => Record(seq, Verdict.Ok, Verdict.Ok, confidence: 0.4f),
                2 or 3 => Record(seq, Verdict.Ng, Verdict.Ng),
                _ => Record(seq, Verdict.Ok, Verdict.Ok),
            };
            if (seq % 10 is 0 or 1) keepLongest.Add(seq);
            store.Append(r);
            recorder.PartInspected(r.ModelVerdict == Verdict.Ok ? "ok" : "scratch", 1);
        }
        var stats = store.Statistics();
        Assert.True(stats.StoredBytes <= stats.BudgetBytes, $"stored {stats.StoredBytes} > budget {stats.BudgetBytes}");
        var kept = store.Records().Select(r => r.Sequence).ToHashSet();
        Assert.All(keepLongest, s => Assert.Contains(s, kept)); // policy: disagreements and low confidence last
        Assert.True(stats.Evictions["agreedOk"] > 0);
        Assert.Equal(0, stats.Evictions["disagreementOrLowConfidence"]);
        Assert.Equal(3000 - kept.Count, stats.Evictions.Values.Sum());

        var snapshot = await publisher.PublishOnceAsync();
        var next = await NextAsync(inbox, "edgeinspect/dev-t/telemetry");
        var ev = next.GetProperty("evictions");
        foreach (var (reason, count) in stats.Evictions)
        {
            Assert.Equal(count, ev.GetProperty("sinceLast").GetProperty(reason).GetInt64());
            Assert.Equal(count, ev.GetProperty("total").GetProperty(reason).GetInt64());
        }
        Assert.Equal(stats.EvictedUnsent, ev.GetProperty("evictedUnsent").GetInt64());
        Assert.Equal(3000, next.GetProperty("frames").GetProperty("inspected").GetInt64());
        Assert.Equal(2, snapshot.Output.Classes.Count);
        // stored too, and the interval after reports no new evictions
        Assert.Equal(2, store.TelemetrySnapshots().Count());
        await publisher.PublishOnceAsync();
        var third = await NextAsync(inbox, "edgeinspect/dev-t/telemetry");
        Assert.All(third.GetProperty("evictions").GetProperty("sinceLast").EnumerateObject(), p => Assert.Equal(0, p.Value.GetInt64()));
    }

    [MosquittoFact]
    public async Task Alarm_DropsCrossThreshold_RaisedOnceStoredPublishedThenClearedAndOfflineStillStored()
    {
        await using var broker = await MosquittoBroker.LaunchAsync();
        var (cloud, inbox) = await SubscribeAsync(broker);
        await using var _ = cloud;
        await using var device = await DeviceAsync(broker);
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(_dir, "a.db") });
        var recorder = new TelemetryRecorder("dev-t", thermalRoot: "/nonexistent");
        var options = new TelemetryOptions
        {
            IntervalSeconds = 0,
            Alarms = [new AlarmRule { Name = "drops", Metric = "framesDropped", Direction = "above", Raise = 10, Clear = 2 }],
        };
        using var publisher = new TelemetryPublisher(recorder, store, store, device, options);

        void Drop(int n) { for (var i = 0; i < n; i++) recorder.FrameDropped(); }
        Drop(12);
        await publisher.PublishOnceAsync();
        var raised = await NextAsync(inbox, "edgeinspect/dev-t/events");
        Assert.Equal("alarm.raised", raised.GetProperty("kind").GetString());
        Assert.Equal("drops", raised.GetProperty("to").GetString());
        Assert.Contains("drops", (await NextAsync(inbox, "edgeinspect/dev-t/telemetry")).GetProperty("activeAlarms").EnumerateArray().Select(a => a.GetString()));

        Drop(5); // below the raise value, above the clear value: no event
        await publisher.PublishOnceAsync();
        await NextAsync(inbox, "edgeinspect/dev-t/telemetry");
        Drop(1);
        await publisher.PublishOnceAsync();
        var cleared = await NextAsync(inbox, "edgeinspect/dev-t/events");
        Assert.Equal("alarm.cleared", cleared.GetProperty("kind").GetString());
        Assert.Equal(["alarm.raised", "alarm.cleared"], store.AuditEvents().Select(a => a.Kind));

        // offline: nothing published, snapshot and alarm still stored
        await device.StopAsync();
        var published = publisher.Published;
        Drop(20);
        await publisher.PublishOnceAsync();
        Assert.Equal(published, publisher.Published);
        Assert.Equal(4, store.TelemetrySnapshots().Count());
        Assert.Equal("alarm.raised", store.AuditEvents().Last().Kind);

        // a restarted publisher restores the active alarm from the store: no second "raised"
        using var restarted = new TelemetryPublisher(recorder, store, store, null, options);
        Drop(20);
        await restarted.PublishOnceAsync();
        Assert.Equal(3, store.AuditEvents().Count());
        Assert.Equal(["drops"], restarted.ActiveAlarms);
    }

    [Fact]
    public void AddEdgeInspectTelemetry_FromConfig_ResolvesRecorderAndPublisherAndRejectsBadAlarm()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Device:Id"] = "dev-cfg",
            ["Telemetry:IntervalSeconds"] = "30",
            ["Telemetry:Alarms:0:Metric"] = "temperatureC",
            ["Telemetry:Alarms:0:Direction"] = "above",
            ["Telemetry:Alarms:0:Raise"] = "80",
            ["Telemetry:Alarms:0:Clear"] = "75",
        }).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IInspectionStore>(new InMemoryInspectionStore());
        services.AddEdgeInspectTelemetry(config);
        using var sp = services.BuildServiceProvider();
        var recorder = sp.GetRequiredService<ITelemetryRecorder>();
        Assert.Same(sp.GetRequiredService<TelemetryRecorder>(), recorder);
        Assert.Single(sp.GetServices<IHostedService>());
        Assert.Equal(30, sp.GetRequiredService<TelemetryOptions>().IntervalSeconds);
        Assert.Equal("temperatureC-above", sp.GetRequiredService<TelemetryOptions>().Alarms[0].EffectiveName);
        Assert.Equal("dev-cfg", sp.GetRequiredService<TelemetryRecorder>().TakeSnapshot().DeviceId);

        // the dev profile (JSON with comments), loaded the way the run verb's wiring does
        var profile = new ConfigurationBuilder().AddJsonFile(Path.Combine(RepoPaths.Root, "device-config", "dev.json"), optional: false, reloadOnChange: false).Build();
        var fromProfile = new ServiceCollection();
        fromProfile.AddSingleton<IInspectionStore>(new InMemoryInspectionStore());
        fromProfile.AddEdgeInspectTelemetry(profile);
        using (var psp = fromProfile.BuildServiceProvider())
        {
            Assert.Equal(10, psp.GetRequiredService<TelemetryOptions>().IntervalSeconds);
            Assert.Contains(psp.GetRequiredService<TelemetryOptions>().Alarms, a => a.Name == "drift" && a.Raise == 3 && a.Clear == 2);
            Assert.Equal("dev-001", psp.GetRequiredService<TelemetryRecorder>().TakeSnapshot().DeviceId);
        }

        var bad = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Telemetry:Alarms:0:Metric"] = "cpuPercent",
            ["Telemetry:Alarms:0:Raise"] = "80",
            ["Telemetry:Alarms:0:Clear"] = "90",
        }).Build();
        // Validated when the host starts (ValidateOnStart) and on first read, naming the key.
        using var badProvider = new ServiceCollection().AddSingleton<IInspectionStore>(new InMemoryInspectionStore())
            .AddEdgeInspectTelemetry(bad).BuildServiceProvider();
        var e = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => badProvider.GetRequiredService<TelemetryOptions>());
        Assert.StartsWith("Telemetry:Alarms:0:Clear", Assert.Single(e.Failures));
    }
}
