using System.Diagnostics;
using System.Globalization;
using EdgeInspect.Cloud.Ingest;
using EdgeInspect.Core.Domain;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.Sync.Mqtt;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
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
        int devices = 500, seconds = 20, warmup = 5, backlog = 0;
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
                case "--backlog": backlog = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException($"unknown argument '{args[i]}'");
            }
        }
        if (devices < 1 || rate <= 0 || seconds < 1 || warmup < 0) throw new ArgumentException("--devices, --rate, --seconds must be positive");
        // The outboxes' store reads wait on the store's lock while an append holds it for its fsync; with hundreds of
        // stations in one process those waits would starve the pool the MQTT loops and the ingest run on.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, devices + 64), io);
        var options = configuration.GetSection(IngestOptions.SectionName).Get<IngestOptions>() ?? new IngestOptions();
        options.Validate();
        var run = "bench" + DateTime.UtcNow.ToString("HHmmss", CultureInfo.InvariantCulture);
        var dir = Directory.CreateTempSubdirectory("edgeinspect-bench-ingest-").FullName;
        Console.WriteLine($"bench ingest: {devices} devices x {rate} parts/s for {seconds} s (after {warmup} s warm-up), device ids {run}-NNNN, stores in {dir}");

        await using var db = NpgsqlDataSource.Create(options.ConnectionString);
        // the ingest's warnings (retries, refused subscriptions) show; the simulated stations' do not (500 of them)
        using var logs = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
        using var ingest = new IngestWorker(options, db, logs: logs);
        await ingest.StartAsync(CancellationToken.None);
        await ingest.Ready.WaitAsync(TimeSpan.FromSeconds(60));

        var stations = new Station[devices];
        try
        {
            // --backlog: each station starts with that many records pending (stored with group commits before its link
            // comes up), so the drain measures the ingest and the outboxes without the stations' per-record fsync.
            var prefilled = Stopwatch.StartNew();
            var drainWatch = new Stopwatch();
            for (var d = 0; d < devices; d++)
            {
                stations[d] = await Station.StartAsync(options, $"{run}-{d:D4}", dir, backlog, () => drainWatch.Start());
            }
            var connectDeadline = Stopwatch.StartNew();
            while (stations.Any(s => !s.Connection.IsConnected) && connectDeadline.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(100);
            if (backlog > 0)
            {
                while (stations.Any(s => s.Store.PendingCount > 0) && drainWatch.Elapsed < TimeSpan.FromSeconds(300)) await Task.Delay(50);
                var drained = (long)devices * backlog - stations.Sum(s => s.Store.PendingCount);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"backlog drain: {drained} records from {devices} devices acknowledged in {drainWatch.Elapsed.TotalSeconds:0.0} s = {drained / drainWatch.Elapsed.TotalSeconds:0} records/s into PostgreSQL (first station connected to last record acknowledged; {ingest.Inserted} new rows)"));
            }
            while (!ingest.IsConnected && connectDeadline.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(100);

            using var stop = new CancellationTokenSource();
            var period = TimeSpan.FromSeconds(1 / rate);
            var producers = stations.Select((s, i) => Task.Factory.StartNew(() => s.Produce(period, TimeSpan.FromMilliseconds(period.TotalMilliseconds * i / devices), stop.Token),
                CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
            await Task.Delay(TimeSpan.FromSeconds(warmup));
            foreach (var s in stations) s.Measure = true;
            var appended0 = stations.Sum(s => s.Appended);
            var records0 = ingest.Records;
            var inserted0 = ingest.Inserted;
            var sw = Stopwatch.StartNew();
            await Task.Delay(TimeSpan.FromSeconds(seconds));
            var committed = ingest.Records - records0;
            var inserted = ingest.Inserted - inserted0;
            var elapsed = sw.Elapsed.TotalSeconds;
            foreach (var s in stations) s.Measure = false;
            var appendedInWindow = stations.Sum(s => s.Appended) - appended0;
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
                $"offered {devices * rate:0} records/s; appended {appendedInWindow / elapsed:0} records/s; new rows in PostgreSQL {inserted / elapsed:0} records/s over {elapsed:0.0} s ({inserted} rows; {committed} acknowledged incl. duplicates; {ingest.Batches} batches in all)"));
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

        public static async Task<Station> StartAsync(IngestOptions ingest, string deviceId, string dir, int backlog, Action beforeLink)
        {
            var store = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(dir, deviceId + ".db") });
            for (var from = 1; from <= backlog; from += 500)
            {
                store.AppendMany([.. Enumerable.Range(from, Math.Min(500, backlog - from + 1)).Select(i => Record(deviceId, i))]);
            }
            var options = new MqttUplinkOptions
            {
                Host = ingest.BrokerHost, Port = ingest.BrokerPort, TopicPrefix = ingest.TopicPrefix, DeviceId = deviceId,
                Delivery = MqttUplinkOptions.IngestAck, Username = ingest.Username, Password = ingest.Password,
            };
            var connection = new DeviceMqttConnection(options);
            var uplink = new OutboxUplink(store, connection, options);
            beforeLink();
            await connection.StartAsync();
            await uplink.StartAsync();
            return new Station(store, connection, uplink, deviceId) { _sequence = backlog };
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
}
