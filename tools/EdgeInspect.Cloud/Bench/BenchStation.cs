using System.Diagnostics;
using EdgeInspect.Cloud.Ingest;
using EdgeInspect.Core.Domain;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.Sync.Mqtt;

namespace EdgeInspect.Cloud.Bench;

/// <summary>One simulated station: the device's store, connection and outbox uplink, with no camera.</summary>
internal sealed class BenchStation : IAsyncDisposable
{
    private readonly Dictionary<long, long> _committedAt = [];
    private readonly Lock _gate = new();
    private long _sequence;

    private BenchStation(LiteDbInspectionStore store, DeviceMqttConnection connection, OutboxUplink uplink, string deviceId)
    {
        Store = store;
        Connection = connection;
        Uplink = uplink;
        DeviceId = deviceId;
        uplink.Delivered += OnDelivered;
    }

    public LiteDbInspectionStore Store { get; }
    public DeviceMqttConnection Connection { get; }
    public OutboxUplink Uplink { get; }
    public string DeviceId { get; }

    /// <summary>Milliseconds from the store commit to the ack that removed the record, for records appended while <see cref="Measure"/> was set.</summary>
    public List<double> Latencies { get; } = [];

    public volatile bool Measure;

    public long Appended => Interlocked.Read(ref _sequence);

    /// <summary>Opens the store with <paramref name="backlog"/> records already pending (group commits of 500); not connected yet (<see cref="ConnectAsync"/>).</summary>
    public static BenchStation Open(IngestOptions ingest, string deviceId, string dir, int backlog, int recordsPerMessage)
    {
        var store = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(dir, deviceId + ".db") });
        for (var from = 1; from <= backlog; from += 500)
        {
            store.AppendMany([.. Enumerable.Range(from, Math.Min(500, backlog - from + 1)).Select(i => Record(deviceId, i))]);
        }
        var options = new MqttUplinkOptions
        {
            Host = ingest.BrokerHost, Port = ingest.BrokerPort, TopicPrefix = ingest.TopicPrefix, DeviceId = deviceId,
            Delivery = MqttUplinkOptions.IngestAck, Username = ingest.Username, Password = ingest.Password, RecordsPerMessage = recordsPerMessage,
        };
        var connection = new DeviceMqttConnection(options);
        var uplink = new OutboxUplink(store, connection, options);
        return new BenchStation(store, connection, uplink, deviceId) { _sequence = backlog };
    }

    /// <summary>Connects and starts the outbox uplink.</summary>
    public async Task ConnectAsync()
    {
        await Connection.StartAsync();
        await Uplink.StartAsync();
    }

    /// <summary>Appends one record per <paramref name="period"/> on its own thread, as a station's record stage does (a durable append blocks for its fsync).</summary>
    public void Produce(TimeSpan period, TimeSpan offset, CancellationToken ct)
    {
        var next = Stopwatch.GetTimestamp() + (long)(offset.TotalSeconds * Stopwatch.Frequency);
        var step = (long)(period.TotalSeconds * Stopwatch.Frequency);
        while (!ct.IsCancellationRequested)
        {
            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next);
            if (wait > TimeSpan.Zero && ct.WaitHandle.WaitOne(wait)) return;
            next += step;
            var seq = Interlocked.Increment(ref _sequence);
            // noted before the append: the ack can come back before Append returns
            if (Measure) lock (_gate) _committedAt[seq] = Stopwatch.GetTimestamp();
            Store.Append(Record(DeviceId, seq));
        }
    }

    private static InspectionRecord Record(string deviceId, long seq)
    {
        var now = DateTimeOffset.UtcNow;
        return new InspectionRecord
        {
            DeviceId = deviceId, Station = "bench", Sequence = seq, CapturedAt = now, DecidedAt = now, Mode = AutomationMode.Full,
            Verdict = seq % 20 == 0 ? Verdict.Ng : Verdict.Ok, VerdictSource = VerdictSource.Model, ModelName = "bench", ModelVersion = "1",
            ModelVerdict = seq % 20 == 0 ? Verdict.Ng : Verdict.Ok, ModelConfidence = 0.97f,
            LatencyMs = new Dictionary<string, double> { ["total"] = 12.5 },
        };
    }

    private void OnDelivered(IReadOnlyList<long> offsets)
    {
        var now = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            foreach (var o in offsets)
            {
                if (_committedAt.Remove(o, out var at)) Latencies.Add(Stopwatch.GetElapsedTime(at, now).TotalMilliseconds);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Uplink.DisposeAsync();
        await Connection.DisposeAsync();
        Store.Dispose();
    }
}
