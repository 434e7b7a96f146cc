using System.CommandLine;
using EdgeInspect.Cli.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;
using EdgeInspect.Core.Telemetry;
using EdgeInspect.Station.Capture;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.Sync.Mqtt;

namespace EdgeInspect.Cli.Commands;

/// <summary>Verbs: store stats / export, the hidden store soak (crash tests) and bench store. The store is found by <see cref="StoreLocation"/>.</summary>
internal static class StoreCommands
{
    public static IEnumerable<Command> Create()
    {
        var store = new Command("store", "Local store: statistics and export for technicians");
        store.Subcommands.Add(Stats());
        store.Subcommands.Add(Export());
        store.Subcommands.Add(Soak());
        return [store];
    }

    /// <summary>Adds --profile and --db to a store verb (resolved by <see cref="StoreLocation.Resolve"/>).</summary>
    private static Command WithStore(Command command)
    {
        command.Options.Add(ProfileOption.Create());
        command.Options.Add(StoreLocation.DbOption());
        return command;
    }

    private static Command Stats()
    {
        var json = CliOptions.Json();
        var cmd = WithStore(new Command("stats", "Counts, pending uplink, disk budget, evictions, alarms (reads a copy; works while the service runs)") { json });
        cmd.SetAction(p => CliErrors.Guard(() =>
        {
            string path = StoreLocation.Resolve(p);
            using var snap = LiteDbInspectionStore.OpenSnapshot(path);
            // The snapshot is a copy in a temp folder: the corrupt files moved aside lie beside the live file.
            // ... and so are the live data file and log whose sizes the budget counts.
            var logPath = LiteDbInspectionStore.LogPath(path);
            var s = snap.Store.Statistics() with
            {
                Path = path,
                RecoveredCorruptFiles = LiteDbInspectionStore.CountCorruptFiles(path),
                DataFileBytes = new FileInfo(path).Length,
                LogFileBytes = File.Exists(logPath) ? new FileInfo(logPath).Length : 0,
            };
            var images = PartImages(p, path, snap.Store);
            var parked = snap.Store.ParkedItems();
            var alarms = snap.Store.AuditEvents().Where(a => a.Kind.StartsWith("alarm.", StringComparison.Ordinal)).ToList();
            var active = alarms.GroupBy(a => a.To ?? a.Kind).Select(g => g.Last()).Where(a => a.Kind == "alarm.raised").ToList();
            if (p.GetValue(json))
            {
                Console.WriteLine(JsonSerializer.Serialize(new { stats = s, images, parked = parked.Select(x => new { x.Sequence, x.Reason }), activeAlarms = active, recentAlarms = alarms.TakeLast(20) }, RecordJson.Options));
                return 0;
            }
            Console.WriteLine($"store            {s.Path}");
            Console.WriteLine($"records          {s.Records} (sequence high-water {s.LastSequence}, store epoch {s.Epoch})");
            Console.WriteLine($"pending uplink   {s.PendingUplink} (parked {s.ParkedUplink}: refused by the broker, kept, not sent)");
            foreach (var (sequence, reason) in parked.Take(10)) Console.WriteLine($"  parked {sequence}: {reason}");
            Console.WriteLine($"on disk          {s.DiskBytes} B (data file {s.DataFileBytes}, log {s.LogFileBytes}, model spool {s.SpoolBytes})" +
                (s.BudgetBytes > 0 ? $" of budget {s.BudgetBytes} ({100.0 * s.DiskBytes / s.BudgetBytes:0.0} %)" : " (no budget)"));
            Console.WriteLine($"record bytes     {s.StoredBytes}");
            Console.WriteLine($"oldest / newest  {s.Oldest:O} / {s.Newest:O}");
            Console.WriteLine($"evictions        {string.Join(", ", s.Evictions.Select(kv => $"{kv.Key}={kv.Value}"))} (unsent {s.EvictedUnsent})");
            Console.WriteLine($"part images      {images.Pending} pending upload ({images.PendingBytes} B) in {images.Folder}" + (images.LastTelemetry is { } t
                ? $"; at the last telemetry ({images.LastTelemetryAt:O}), since the station started: captured {t.Captured}, dropped {t.Dropped}, evicted {t.Evicted}, uploaded {t.Uploaded}"
                : "; no telemetry snapshot with image counters (capture off, or no snapshot taken yet)"));
            Console.WriteLine($"audit events     {s.AuditEvents}; telemetry snapshots {s.TelemetrySnapshots}; corrupt files moved aside {s.RecoveredCorruptFiles}");
            Console.WriteLine($"active alarms    {(active.Count == 0 ? "none" : string.Join("; ", active.Select(a => $"{a.To} since {a.At:O} ({a.Reason})")))}");
            foreach (var a in alarms.TakeLast(10)) Console.WriteLine($"  {a.At:O} {a.Kind} {a.To}: {a.Reason}");
            return 0;
        }));
        return cmd;
    }

    /// <summary>What <c>store stats</c> shows of the part images.</summary>
    /// <param name="Folder">The image folder (Capture:Folder, else beside the store).</param>
    /// <param name="Pending">Images in it now, waiting for the upload.</param>
    /// <param name="PendingBytes">Their bytes.</param>
    /// <param name="LastTelemetryAt">When the last telemetry snapshot that carried image counters was taken.</param>
    /// <param name="LastTelemetry">Its counters: the running station's, since it started (the store keeps no others).</param>
    private sealed record PartImageStats(string Folder, long Pending, long PendingBytes, DateTimeOffset? LastTelemetryAt, PartImageTelemetry? LastTelemetry);

    private static PartImageStats PartImages(ParseResult p, string storePath, LiteDbInspectionStore store)
    {
        // With --db there is no profile to name another folder: the default beside the store.
        var capture = p.GetValue<string?>(StoreLocation.DbName) is { Length: > 0 }
            ? new CaptureOptions()
            : ProfileOption.Load(p).Section<CaptureOptions>(CaptureOptions.SectionName);
        var folder = capture.EffectiveFolder(storePath);
        var pending = new PartImageFolder(folder).All();
        var noTelemetry = new PartImageStats(folder, pending.Count, pending.Sum(f => f.Bytes), null, null);
        var snapshots = store.TelemetrySnapshots().ToList();
        for (var i = snapshots.Count - 1; i >= 0; i--)
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(snapshots[i]);
            if (node?["images"] is not { } images) continue;
            return noTelemetry with { LastTelemetryAt = node["at"]?.GetValue<DateTimeOffset>(), LastTelemetry = images.Deserialize<PartImageTelemetry>(RecordJson.Options) };
        }
        return noTelemetry;
    }

    private static Command Export()
    {
        var since = new Option<DateTimeOffset?>("--since") { Description = "only records captured at or after this time (ISO 8601, e.g. 2026-11-23T08:00:00Z)" };
        since.CustomParser = r =>
        {
            string text = r.Tokens.Count > 0 ? r.Tokens[0].Value : "";
            if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t)) return t;
            r.AddError($"--since: '{text}' is not a date/time (use ISO 8601, e.g. 2026-11-23T08:00:00Z)");
            return null;
        };
        var output = new Option<string?>("--out") { Description = "write to this file instead of stdout" };
        var cmd = WithStore(new Command("export", "Records as JSON lines (one camelCase record per line), in sequence order") { since, output });
        cmd.SetAction(p => CliErrors.Guard(() =>
        {
            DateTimeOffset? from = p.GetValue(since);
            using var snap = LiteDbInspectionStore.OpenSnapshot(StoreLocation.Resolve(p));
            using var stream = p.GetValue(output) is { } path ? File.Create(path) : Console.OpenStandardOutput();
            var n = 0;
            foreach (var json in snap.Store.RecordJsons(from))
            {
                stream.Write(json);
                stream.WriteByte((byte)'\n');
                n++;
            }
            Console.Error.WriteLine($"exported {n} records");
            return 0;
        }));
        return cmd;
    }

    /// <summary>Hidden: appends records forever and prints each sequence after Append returned (the crash test's child).</summary>
    private static Command Soak()
    {
        var count = new Option<long>("--count") { Description = "stop after this many (0 = until killed)" };
        var host = new Option<string?>("--mqtt-host") { Description = "also run the uplink to this broker (status tests)" };
        var port = new Option<int>("--mqtt-port") { DefaultValueFactory = _ => 1883 };
        var device = new Option<string>("--device") { DefaultValueFactory = _ => "soak" };
        var interval = new Option<int>("--interval-ms") { Description = "pause between records" };
        var cmd = WithStore(new Command("soak", "append records and print each stored sequence (crash tests)") { count, host, port, device, interval });
        cmd.Hidden = true;
        cmd.SetAction(p => CliErrors.Guard(() =>
        {
            using var store = new LiteDbInspectionStore(new StoreOptions { Path = StoreLocation.Resolve(p, mustExist: false) });
            DeviceMqttConnection? conn = null;
            OutboxUplink? uplink = null;
            if (p.GetValue(host) is { } h)
            {
                var opts = new MqttUplinkOptions { Host = h, Port = p.GetValue(port), DeviceId = p.GetValue(device)!, MinBackoffSeconds = 0.2, MaxBackoffSeconds = 1 };
                conn = new DeviceMqttConnection(opts, status: () => new DeviceStatusInfo("shadow", "defects", "1.0.0", "soak"));
                conn.StartAsync().GetAwaiter().GetResult();
                uplink = new OutboxUplink(store, conn, opts);
                uplink.StartAsync().GetAwaiter().GetResult();
            }
            var max = p.GetValue(count);
            var pause = p.GetValue(interval);
            var stdout = Console.Out;
            for (long i = 0; max == 0 || i < max; i++)
            {
                var seq = store.LoadState().LastSequence + 1;
                store.Append(SampleRecord("soak", seq, TimeProvider.System.GetUtcNow()));
                stdout.WriteLine(seq);
                stdout.Flush();
                if (pause > 0) Thread.Sleep(pause);
            }
            uplink?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            conn?.DisposeAsync().AsTask().GetAwaiter().GetResult();
            return 0;
        }));
        return cmd;
    }

    internal static Command BenchStore()
    {
        var count = new Option<int>("--count") { Description = "records to insert", DefaultValueFactory = _ => 1000 }.InRange(1);
        var host = new Option<string?>("--mqtt-host") { Description = "also measure the outbox drain to this broker" };
        var port = new Option<int>("--mqtt-port") { DefaultValueFactory = _ => 1883 };
        var partRate = new Option<double>("--part-rate") { Description = "the station's part rate, parts/s", DefaultValueFactory = _ => 10 };
        var group = new Option<int>("--group") { Description = "also measure group commit: records per AppendMany (0 = skip)", DefaultValueFactory = _ => 0 }.InRange(0);
        var inFlight = new Option<int>("--max-inflight") { Description = "Uplink:MaxInFlight for the drain", DefaultValueFactory = _ => new MqttUplinkOptions().MaxInFlight }.InRange(1);
        partRate.Check(v => v > 0 ? null : $"must be > 0, got {v}");
        var cmd = new Command("store", "Durable insert rate of the local store and outbox drain rate to a broker") { count, host, port, partRate, group, inFlight };
        cmd.SetAction(async (p, ct) =>
        {
            var dir = Directory.CreateTempSubdirectory("edgeinspect-bench-").FullName;
            try
            {
                var n = p.GetValue(count);
                using var store = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(dir, "bench.db") });
                var now = TimeProvider.System.GetUtcNow();
                var sw = Stopwatch.StartNew();
                for (var i = 1; i <= n; i++) store.Append(SampleRecord("bench", i, now));
                sw.Stop();
                var rate = n / sw.Elapsed.TotalSeconds;
                Console.WriteLine($"durable inserts: {n} in {sw.Elapsed.TotalMilliseconds:F0} ms = {rate:F0} records/s " +
                                  $"({rate / p.GetValue(partRate):F1}x a {p.GetValue(partRate)} parts/s station; {store.DiskFlushes} fsyncs, " +
                                  $"{store.Checkpoints} checkpoints incl. open)");
                if (p.GetValue(group) is > 0 and var g)
                {
                    var flushes = store.DiskFlushes;
                    sw.Restart();
                    for (var i = n + 1; i <= 2 * n; i += g)
                    {
                        store.AppendMany([.. Enumerable.Range(i, Math.Min(g, 2 * n + 1 - i)).Select(s => SampleRecord("bench", s, now))]);
                    }
                    sw.Stop();
                    Console.WriteLine($"group commit ({g} per AppendMany): {n} in {sw.Elapsed.TotalMilliseconds:F0} ms = {n / sw.Elapsed.TotalSeconds:F0} records/s " +
                                      $"({store.DiskFlushes - flushes} fsyncs)");
                }
                if (p.GetValue(host) is { } h)
                {
                    var opts = new MqttUplinkOptions { Host = h, Port = p.GetValue(port), DeviceId = "bench", MaxInFlight = p.GetValue(inFlight) };
                    await using var conn = new DeviceMqttConnection(opts);
                    await conn.StartAsync(ct);
                    if (!await conn.WaitConnectedAsync(TimeSpan.FromSeconds(10), ct))
                        return CliErrors.Fail($"--mqtt-host: no broker at {h}:{opts.Port}", ExitCodes.Unreachable);
                    // A subscriber for the records: with nobody subscribed the broker answers PUBACK 0x10, which is not delivery.
                    await using var sink = new DeviceMqttConnection(new MqttUplinkOptions { Host = h, Port = opts.Port, DeviceId = "bench-sink", TopicPrefix = "bench-sink" });
                    var subscribed = new TaskCompletionSource();
                    sink.Connected += _ => { subscribed.TrySetResult(); return Task.CompletedTask; };
                    sink.Subscribe(conn.Topics.Records, (_, _) => Task.CompletedTask, MQTTnet.Protocol.MqttQualityOfServiceLevel.AtMostOnce);
                    await sink.StartAsync(ct);
                    await subscribed.Task.WaitAsync(TimeSpan.FromSeconds(10), ct);
                    await using var uplink = new OutboxUplink(store, conn, opts);
                    sw.Restart();
                    var sent = await uplink.DrainOnceAsync(ct);
                    sw.Stop();
                    Console.WriteLine($"outbox drain: {sent} records at QoS 1 in {sw.Elapsed.TotalMilliseconds:F0} ms = {sent / sw.Elapsed.TotalSeconds:F0} records/s " +
                                      $"(max in flight {opts.MaxInFlight}, batch {opts.BatchSize}; pending left {store.PendingCount})");
                }
                return 0;
            }
            catch (IOException e)
            {
                return CliErrors.Fail(e.Message);
            }
            finally
            {
                try { Directory.Delete(dir, true); } catch (IOException) { }
            }
        });
        return cmd;
    }

    /// <summary>A realistic record (two regions, per-stage latency) for soak and bench.</summary>
    internal static InspectionRecord SampleRecord(string device, long seq, DateTimeOffset at) => new()
    {
        DeviceId = device,
        Station = "st-1",
        Sequence = seq,
        PartId = $"P{seq:D8}",
        CapturedAt = at,
        DecidedAt = at.AddMilliseconds(42),
        Mode = AutomationMode.Shadow,
        ModelName = "defects",
        ModelVersion = "1.0.0",
        Regions = [new Region(new(10, 10, 60, 60), 0.97f) { ClassName = "scratch", ClassConfidence = 0.91f, ClassProbabilities = [0.05f, 0.91f, 0.04f] }],
        Verdict = seq % 5 == 0 ? Verdict.Ng : Verdict.Ok,
        VerdictSource = VerdictSource.Human,
        ModelVerdict = seq % 5 == 0 ? Verdict.Ng : Verdict.Ok,
        ModelConfidence = 0.93f,
        HumanVerdict = seq % 5 == 0 ? Verdict.Ng : Verdict.Ok,
        LatencyMs = new Dictionary<string, double> { ["pnet"] = 8.1, ["rnet"] = 3.2, ["onet"] = 2.9, ["classifier"] = 4.4, ["total"] = 19.0 },
    };
}
