using EdgeInspect.Core.Domain;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.Sync.Mqtt;

namespace EdgeInspect.Cloud.Tests.Ingest;

/// <summary>A station without a camera: the real device store, connection and outbox uplink, appending records on demand or at a rate.</summary>
internal sealed class SimulatedStation : IAsyncDisposable
{
    private long _sequence;

    /// <param name="configure">Changes to the uplink options before the connection is made (TLS, for one).</param>
    public SimulatedStation(string dir, string host, int port, string deviceId, string delivery = MqttUplinkOptions.IngestAck,
        Action<MqttUplinkOptions>? configure = null)
    {
        DeviceId = deviceId;
        Store = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(dir, deviceId + ".db") });
        Options = new MqttUplinkOptions
        {
            Host = host, Port = port, DeviceId = deviceId, Delivery = delivery, MinBackoffSeconds = 0.1, MaxBackoffSeconds = 0.5,
            PingIntervalSeconds = 0.5, ResendAfterSeconds = 1, MaxResendBackoffSeconds = 2,
        };
        configure?.Invoke(Options);
        Connection = new DeviceMqttConnection(Options);
        Uplink = new OutboxUplink(Store, Connection, Options);
    }

    public string DeviceId { get; }
    public MqttUplinkOptions Options { get; }
    public LiteDbInspectionStore Store { get; }
    public DeviceMqttConnection Connection { get; }
    public OutboxUplink Uplink { get; }
    public long Appended => Interlocked.Read(ref _sequence);

    public async Task StartAsync()
    {
        await Connection.StartAsync();
        await Uplink.StartAsync();
        if (!await Connection.WaitConnectedAsync(TimeSpan.FromSeconds(10))) throw new TimeoutException($"{DeviceId} did not connect");
    }

    public void Append(int count = 1)
    {
        for (var i = 0; i < count; i++)
        {
            var seq = Interlocked.Increment(ref _sequence);
            var at = DateTimeOffset.UtcNow;
            Store.Append(new InspectionRecord
            {
                DeviceId = DeviceId, Station = "st-1", Sequence = seq, CapturedAt = at, DecidedAt = at, Mode = AutomationMode.Full,
                Verdict = seq % 10 == 0 ? Verdict.Ng : Verdict.Ok, VerdictSource = VerdictSource.Model, ModelVerdict = seq % 10 == 0 ? Verdict.Ng : Verdict.Ok,
                ModelName = "m", ModelVersion = "1",
            });
        }
    }

    /// <summary>Appends <paramref name="perTick"/> records every <paramref name="period"/> until cancelled.</summary>
    public async Task ProduceAsync(TimeSpan period, int perTick, CancellationToken ct)
    {
        try
        {
            using var timer = new PeriodicTimer(period);
            while (await timer.WaitForNextTickAsync(ct)) Append(perTick);
        }
        catch (OperationCanceledException) { }
    }

    public async ValueTask DisposeAsync()
    {
        await Uplink.DisposeAsync();
        await Connection.DisposeAsync();
        Store.Dispose();
    }
}
