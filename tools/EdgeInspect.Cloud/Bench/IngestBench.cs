using System.Diagnostics;
using System.Globalization;
using EdgeInspect.Cloud.Ingest;
using EdgeInspect.Core.Domain;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.Sync.Mqtt;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace EdgeInspect.Cloud.Bench;

/// <summary>
/// <c>bench ingest</c>: N simulated stations, each the real device store (LiteDB file in a temp folder) and outbox
/// uplink in <c>ingest-ack</c> mode over its own MQTT connection, append records at a fixed rate; an ingest in this
/// process writes them to PostgreSQL and acknowledges them. Reports the records per second the ingest committed
/// during the measured window and the end-to-end latency (record committed to the device store, to the ack that
/// removed it from the outbox) p50 / p99, then checks the table holds every record exactly once.
/// Needs a running broker and PostgreSQL (Ingest:BrokerHost/BrokerPort, Ingest:ConnectionString); it drops and recreates
/// nothing but writes into the tables of that database.
/// </summary>
public static class IngestBench
{
    public static async Task<int> RunAsync(IConfiguration configuration, List<string> args)
    {
        int devices = 500, seconds = 20, warmup = 5;
        double rate = 10;
        for (var i = 0; i < args.Count; i++)
        {
            string Next() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]}: needs a value");
            switch (args[i])
            {
                case "--devices": devices = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--rate": rate = double.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--seconds": seconds = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--warmup": warmup = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException($"unknown argument '{args[i]}'");
            }
        }
        if (devices < 1 || rate <= 0 || seconds < 1 || warmup < 0) throw new ArgumentException("--devices, --rate, --seconds must be positive");
        var options = configuration.GetSection(IngestOptions.SectionName).Get<IngestOptions>() ?? new IngestOptions();
        options.Validate();
        var run = "bench" + DateTime.UtcNow.ToString("HHmmss", CultureInfo.InvariantCulture);
        var dir = Directory.CreateTempSubdirectory("edgeinspect-bench-ingest-").FullName;
        Console.WriteLine($"bench ingest: {devices} devices x {rate} parts/s for {seconds} s (after {warmup} s warm-up), device ids {run}-NNNN, stores in {dir}");

        await using var db = NpgsqlDataSource.Create(options.ConnectionString);
        using var ingest = new IngestWorker(options, db);
        await ingest.StartAsync(CancellationToken.None);
        await ingest.Ready.WaitAsync(TimeSpan.FromSeconds(60));

        var stations = new Station[devices];
        try
        {
            for (var d = 0; d < devices; d++) stations[d] = await Station.StartAsync(options, $"{run}-{d:D4}", dir);
            var connectDeadline = Stopwatch.StartNew();
            while (stations.Any(s => !s.Connection.IsConnected) && connectDeadline.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(100);
            while (!ingest.IsConnected && connectDeadline.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(100);

            using var stop = new CancellationTokenSource();
            var period = TimeSpan.FromSeconds(1 / rate);
            var producers = stations.Select((s, i) => Task.Run(() => s.ProduceAsync(period, TimeSpan.FromMilliseconds(period.TotalMilliseconds * i / devices), stop.Token))).ToArray();
            await Task.Delay(TimeSpan.FromSeconds(warmup));
            foreach (var s in stations) s.Measure = true;
            var records0 = ingest.Records;
            var sw = Stopwatch.StartNew();
            await Task.Delay(TimeSpan.FromSeconds(seconds));
            var committed = ingest.Records - records0;
            var elapsed = sw.Elapsed.TotalSeconds;
            foreach (var s in stations) s.Measure = false;
            await stop.CancelAsync();
            await Task.WhenAll(producers);
            var appended = stations.Sum(s => s.Appended);
            var drain = Stopwatch.StartNew();
            while (stations.Any(s => s.Store.PendingCount > 0) && drain.Elapsed < TimeSpan.FromSeconds(120)) await Task.Delay(200);
            var latencies = stations.SelectMany(s => s.Latencies).Order().ToArray();
            await using var cmd = db.CreateCommand("SELECT count(*), count(DISTINCT (device_id, store_epoch, sequence)) FROM records WHERE device_id LIKE @p");
            cmd.Parameters.AddWithValue("p", run + "-%");
            await using var r = await cmd.ExecuteReaderAsync();
            await r.ReadAsync();
            var rows = r.GetInt64(0);
            var distinct = r.GetInt64(1);
            var pending = stations.Sum(s => s.Store.PendingCount);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"offered {devices * rate:0} records/s; ingest committed {committed / elapsed:0} records/s over {elapsed:0.0} s ({committed} records, {ingest.Batches} batches in all)"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"end-to-end latency (device store commit -> ingest ack removed it): p50 {Percentile(latencies, 0.50):0.0} ms, p99 {Percentile(latencies, 0.99):0.0} ms, max {(latencies.Length > 0 ? latencies[^1] : 0):0.0} ms over {latencies.Length} records"));
            Console.WriteLine($"appended {appended}; in PostgreSQL {rows} rows, {distinct} distinct keys; still pending on devices {pending}; resent {stations.Sum(s => s.Uplink.Resent)}");
            return rows == appended && distinct == appended && pending == 0 ? 0 : 1;
        }
        finally
        {
            foreach (var s in stations.Where(s => s is not null)) await s.DisposeAsync();
            await ingest.StopAsync(CancellationToken.None);
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    private static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];

    /// <summary>One simulated station: the device's store, connection and outbox uplink, with no camera.</summary>
    private sealed class Station : IAsyncDisposable
    {
        private readonly Dictionary<long, long> _committedAt = [];
        private readonly Lock _gate = new();
        private long _sequence;

        private Station(LiteDbInspectionStore store, DeviceMqttConnection connection, OutboxUplink uplink, string deviceId)
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
        public List<double> Latencies { get; } = [];
        public volatile bool Measure;
        public long Appended => Interlocked.Read(ref _sequence);

        public static async Task<Station> StartAsync(IngestOptions ingest, string deviceId, string dir)
        {
            var store = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(dir, deviceId + ".db") });
            var options = new MqttUplinkOptions
            {
                Host = ingest.BrokerHost, Port = ingest.BrokerPort, TopicPrefix = ingest.TopicPrefix, DeviceId = deviceId,
                Delivery = MqttUplinkOptions.IngestAck, Username = ingest.Username, Password = ingest.Password,
            };
            var connection = new DeviceMqttConnection(options);
            var uplink = new OutboxUplink(store, connection, options);
            await connection.StartAsync();
            await uplink.StartAsync();
            return new Station(store, connection, uplink, deviceId);
        }

        public async Task ProduceAsync(TimeSpan period, TimeSpan offset, CancellationToken ct)
        {
            try
            {
                await Task.Delay(offset, ct);
                using var timer = new PeriodicTimer(period);
                while (await timer.WaitForNextTickAsync(ct))
                {
                    var seq = Interlocked.Increment(ref _sequence);
                    var now = DateTimeOffset.UtcNow;
                    // noted before the append: the ack can come back before Append returns
                    if (Measure) lock (_gate) _committedAt[seq] = Stopwatch.GetTimestamp();
                    Store.Append(new InspectionRecord
                    {
                        DeviceId = DeviceId, Station = "bench", Sequence = seq, CapturedAt = now, DecidedAt = now, Mode = AutomationMode.Full,
                        Verdict = seq % 20 == 0 ? Verdict.Ng : Verdict.Ok, VerdictSource = VerdictSource.Model, ModelName = "bench", ModelVersion = "1",
                        ModelVerdict = seq % 20 == 0 ? Verdict.Ng : Verdict.Ok, ModelConfidence = 0.97f,
                        LatencyMs = new Dictionary<string, double> { ["total"] = 12.5 },
                    });
                }
            }
            catch (OperationCanceledException) { }
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
}
