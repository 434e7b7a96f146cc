using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EdgeInspect.Cloud.Ingest;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace EdgeInspect.Cloud.Bench;

/// <summary>
/// <c>bench ingest</c>: N simulated stations (<see cref="StationFleet"/>: the real device store and outbox uplink in
/// <c>ingest-ack</c> mode, each over its own MQTT connection) append records at a fixed rate; an ingest in this
/// process writes them to PostgreSQL and acknowledges them. Reports the backlog drain rate, the records per second the
/// ingest committed during the measured window and the end-to-end latency (record committed to the device store, to
/// the ack that removed it from the outbox) p50 / p99, then checks the table holds every record exactly once.
/// <para>
/// With <c>--stations-process</c> the stations run in a child process (<c>bench stations</c>), so the ingest's process
/// holds nothing but the ingest: its CPU time per record is then the ingest's own, and the stations' garbage
/// collections and hundreds of threads do not pause it. The two processes still share the machine's cores.
/// </para>
/// Needs a running broker and PostgreSQL (Ingest:BrokerHost/BrokerPort, Ingest:ConnectionString); it drops and recreates
/// nothing but writes into the tables of that database.
/// </summary>
public static class IngestBench
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <param name="settingsArgs">The <c>--config</c> / <c>--Section:Key</c> arguments, passed on to the stations' process.</param>
    public static async Task<int> RunAsync(IConfiguration configuration, List<string> args, IReadOnlyList<string> settingsArgs)
    {
        var cpuOf = TakeCpuOf(args);
        var (s, childProcess) = Parse(args, allowProcess: true);
        var options = Options(configuration);
        var dir = Directory.CreateTempSubdirectory("edgeinspect-bench-ingest-").FullName;
        Console.WriteLine($"bench ingest: {s.Devices} devices x {s.Rate} parts/s for {s.Seconds} s (after {s.Warmup} s warm-up), backlog {s.Backlog}, " +
            $"{s.RecordsPerMessage} records per message at most, device ids {s.Run}-NNNN, stations {(childProcess ? "in a child process" : "in this process")}");

        await using var db = NpgsqlDataSource.Create(options.ConnectionString);
        // the ingest's warnings (retries, refused subscriptions) show; the simulated stations' do not (500 of them)
        using var logs = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
        using var ingest = new IngestWorker(options, db, logs: logs);
        await ingest.StartAsync(CancellationToken.None);
        await ingest.Ready.WaitAsync(TimeSpan.FromSeconds(60));
        var deadline = Stopwatch.StartNew();
        while (!ingest.IsConnected && deadline.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(50);

        var me = Process.GetCurrentProcess();
        (long Records, long Inserted, TimeSpan Cpu) Sample()
        {
            me.Refresh();
            return (ingest.Records, ingest.Inserted, me.TotalProcessorTime);
        }
        (long Records, long Inserted, TimeSpan Cpu) start = default, end = default;
        var drainStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Phase(string p)
        {
            if (p == "window-start") start = Sample();
            else if (p == "window-end") end = Sample();
            else if (p == "drain-start") drainStarted.TrySetResult();
        }
        // Whose CPU the drain is split into: this process (the ingest alone when the stations run in a child), the
        // stations' process, and whatever --cpu-of names (the broker, PostgreSQL's postmaster and its backends).
        var stationsPid = 0;
        var split = new List<(string Name, Func<TimeSpan> Cpu)> { ("ingest", () => { me.Refresh(); return me.TotalProcessorTime; }) };
        if (childProcess) split.Add(("stations", () => stationsPid == 0 ? TimeSpan.Zero : ProcessTreeCpu.Own(Volatile.Read(ref stationsPid))));
        split.AddRange(cpuOf.Select(c => (c.Name, (Func<TimeSpan>)c.Read)));
        // The ingest's side of the backlog drain: first record received to the last backlog record committed.
        using var watchStop = new CancellationTokenSource();
        var backlogWatch = Task.Run(() => WatchBacklogAsync(ingest, split, drainStarted.Task, (long)s.Devices * s.Backlog, watchStop.Token));
        FleetResult result;
        try
        {
            result = childProcess
                ? await RunStationsProcessAsync(args, settingsArgs, s, Phase, pid => Volatile.Write(ref stationsPid, pid))
                : await StationFleet.RunAsync(options, s, dir, Phase);
        }
        finally
        {
            await watchStop.CancelAsync();
            await ingest.StopAsync(CancellationToken.None);
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
        var backlog = await backlogWatch;

        await using var cmd = db.CreateCommand("SELECT count(*), count(DISTINCT (device_id, store_epoch, sequence)) FROM records WHERE device_id LIKE @p");
        cmd.Parameters.AddWithValue("p", s.Run + "-%");
        await using var r = await cmd.ExecuteReaderAsync();
        await r.ReadAsync();
        var rows = r.GetInt64(0);
        var distinct = r.GetInt64(1);
        var inv = CultureInfo.InvariantCulture;
        if (s.Backlog > 0)
        {
            Console.WriteLine(string.Create(inv,
                $"backlog drain (stations' view): {result.BacklogDrained} records from {s.Devices} devices acknowledged in {result.BacklogSeconds:0.0} s = {result.BacklogDrained / result.BacklogSeconds:0} records/s (first station connected to last record acknowledged)"));
            if (backlog is { } b)
            {
                var ingestCpu = b.Cpu[0];
                Console.WriteLine(string.Create(inv,
                    $"backlog drain (ingest's view): {b.Records} new rows in {b.Seconds:0.00} s = {b.Records / b.Seconds:0} records/s (stations' drain start to last committed); ingest process CPU {ingestCpu.TotalSeconds:0.00} s = {ingestCpu.TotalMilliseconds * 1000 / b.Records:0} ms per 1000 records{(childProcess ? "" : " (stations included: same process)")}"));
                var perK = split.Select((x, i) => string.Create(inv, $"{x.Name} {b.Cpu[i].TotalMilliseconds * 1000 / b.Records:0} ms"));
                var all = b.Cpu.Aggregate(TimeSpan.Zero, (a, c) => a + c);
                Console.WriteLine(string.Create(inv,
                    $"backlog drain CPU per 1000 records: {string.Join(", ", perK)}; together {all.TotalMilliseconds * 1000 / b.Records:0} ms = {all.TotalSeconds / b.Seconds:0.00} cores busy over the drain"));
            }
        }
        var window = end.Records - start.Records;
        var windowInserted = end.Inserted - start.Inserted;
        var cpu = end.Cpu - start.Cpu;
        Console.WriteLine(string.Create(inv,
            $"offered {s.Devices * s.Rate:0} records/s; appended {result.AppendedInWindow / result.WindowSeconds:0} records/s; new rows in PostgreSQL {windowInserted / result.WindowSeconds:0} records/s over {result.WindowSeconds:0.0} s ({windowInserted} rows; {window} acknowledged incl. duplicates; {ingest.Batches} batches in all); ingest process CPU {cpu.TotalSeconds / result.WindowSeconds:P0} of one core"));
        Console.WriteLine(string.Create(inv,
            $"end-to-end latency (device store commit -> ingest ack removed it): p50 {result.P50Ms:0.0} ms, p99 {result.P99Ms:0.0} ms, max {result.MaxMs:0.0} ms over {result.LatencyCount} records"));
        Console.WriteLine($"appended {result.Appended}; in PostgreSQL {rows} rows, {distinct} distinct keys; still pending on devices {result.Pending}; resent {result.Resent}");
        return rows == result.Appended && distinct == result.Appended && result.Pending == 0 ? 0 : 1;
    }

    /// <summary><c>bench stations</c>: the stations' half of <c>bench ingest --stations-process</c>; phases and the result go to stdout, one line each.</summary>
    public static async Task<int> RunStationsAsync(IConfiguration configuration, List<string> args)
    {
        var (s, _) = Parse(args, allowProcess: false);
        var options = Options(configuration);
        var dir = Directory.CreateTempSubdirectory("edgeinspect-bench-stations-").FullName;
        try
        {
            var result = await StationFleet.RunAsync(options, s, dir, p =>
            {
                Console.WriteLine("phase " + p);
                Console.Out.Flush();
            });
            Console.WriteLine("result " + JsonSerializer.Serialize(result, Json));
            return 0;
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    private static async Task<FleetResult> RunStationsProcessAsync(List<string> args, IReadOnlyList<string> settingsArgs, FleetSettings s, Action<string> phase,
        Action<int> started)
    {
        var psi = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        // run as "dotnet edgeinspect-cloud.dll": the child needs the assembly; as the apphost it is the executable itself
        if (Path.GetFileNameWithoutExtension(psi.FileName) == "dotnet") psi.ArgumentList.Add(typeof(IngestBench).Assembly.Location);
        foreach (var a in new[] { "bench", "stations" }.Concat(args.Where(a => a != "--stations-process")).Concat(["--run", s.Run]).Concat(settingsArgs))
        {
            psi.ArgumentList.Add(a);
        }
        using var child = Process.Start(psi) ?? throw new InvalidOperationException("the stations' process did not start");
        started(child.Id);
        FleetResult? result = null;
        while (await child.StandardOutput.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("phase ", StringComparison.Ordinal)) phase(line["phase ".Length..]);
            else if (line.StartsWith("result ", StringComparison.Ordinal)) result = JsonSerializer.Deserialize<FleetResult>(line["result ".Length..], Json);
            else Console.WriteLine("stations: " + line);
        }
        await child.WaitForExitAsync();
        return result ?? throw new InvalidOperationException($"the stations' process exited with {child.ExitCode} and no result");
    }

    /// <summary>
    /// The drain as the ingest sees it: the stations' "drain-start" (every backlog stored, the first station about to
    /// connect) to the last backlog record committed, with each of <paramref name="split"/>'s CPU time over it. Not
    /// from the first message received: the broker may hand the ingest retained status messages of earlier runs at once.
    /// </summary>
    private static async Task<(long Records, double Seconds, TimeSpan[] Cpu)?> WatchBacklogAsync(IngestWorker ingest, List<(string Name, Func<TimeSpan> Cpu)> split,
        Task drainStarted, long expected, CancellationToken ct)
    {
        if (expected == 0) return null;
        try
        {
            await drainStarted.WaitAsync(ct);
            var sw = Stopwatch.StartNew();
            var inserted0 = ingest.Inserted;
            var cpu0 = split.Select(x => x.Cpu()).ToArray();
            while (ingest.Inserted - inserted0 < expected) await Task.Delay(5, ct);
            var seconds = sw.Elapsed.TotalSeconds;
            var inserted = ingest.Inserted - inserted0;
            return (inserted, seconds, [.. split.Select((x, i) => x.Cpu() - cpu0[i])]);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }

    /// <summary>Removes every <c>--cpu-of NAME=PID</c> pair from <paramref name="args"/> (the stations' process is not given them).</summary>
    private static List<ProcessTreeCpu> TakeCpuOf(List<string> args)
    {
        var found = new List<ProcessTreeCpu>();
        for (var i = 0; i < args.Count;)
        {
            if (args[i] != "--cpu-of")
            {
                i++;
                continue;
            }
            if (i + 1 >= args.Count) throw new ArgumentException("--cpu-of: needs NAME=PID");
            found.Add(ProcessTreeCpu.Parse(args[i + 1]));
            args.RemoveRange(i, 2);
        }
        return found;
    }

    private static IngestOptions Options(IConfiguration configuration)
    {
        var options = configuration.GetSection(IngestOptions.SectionName).Get<IngestOptions>() ?? new IngestOptions();
        options.Validate();
        return options;
    }

    private static (FleetSettings Settings, bool ChildProcess) Parse(List<string> args, bool allowProcess)
    {
        int devices = 500, seconds = 20, warmup = 5, backlog = 0, recordsPerMessage = 1;
        double rate = 10;
        var childProcess = false;
        string? run = null;
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
                case "--records-per-message": recordsPerMessage = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--stations-process" when allowProcess: childProcess = true; break;
                case "--run" when !allowProcess: run = Next(); break;
                default: throw new ArgumentException($"unknown argument '{args[i]}'");
            }
        }
        if (devices < 1 || rate <= 0 || seconds < 1 || warmup < 0 || backlog < 0 || recordsPerMessage < 1)
        {
            throw new ArgumentException("--devices, --rate, --seconds, --records-per-message must be positive, --warmup and --backlog not negative");
        }
        run ??= "bench" + DateTime.UtcNow.ToString("HHmmss", CultureInfo.InvariantCulture);
        return (new FleetSettings(devices, rate, seconds, warmup, backlog, recordsPerMessage, run), childProcess);
    }
}
