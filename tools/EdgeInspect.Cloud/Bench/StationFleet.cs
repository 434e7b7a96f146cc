using System.Diagnostics;
using EdgeInspect.Cloud.Ingest;

namespace EdgeInspect.Cloud.Bench;

/// <summary>What <c>bench ingest</c> asks of the simulated stations.</summary>
internal sealed record FleetSettings(int Devices, double Rate, int Seconds, int Warmup, int Backlog, int RecordsPerMessage, string Run);

/// <summary>What the simulated stations saw: the backlog drain, the measured window, the latencies, what is left.</summary>
internal sealed record FleetResult(
    long BacklogDrained, double BacklogSeconds, long AppendedInWindow, double WindowSeconds, double P50Ms, double P99Ms, double MaxMs,
    int LatencyCount, long Appended, long Pending, long Resent);

/// <summary>
/// N simulated stations against the broker: optional backlog drain, then each appends at the rate for warm-up plus the
/// measured window, then everything pending is waited for. <c>phase</c> is told "drain-start" (every backlog stored), "window-start" and "window-end" so
/// the ingest's counters can be read at the same instants, in this process or another.
/// </summary>
internal static class StationFleet
{
    public static async Task<FleetResult> RunAsync(IngestOptions options, FleetSettings s, string dir, Action<string> phase)
    {
        // The outboxes' store reads wait on the store's lock while an append holds it for its fsync; with hundreds of
        // stations in one process those waits would starve the pool the MQTT loops (and the ingest, in-process) run on.
        ThreadPool.GetMinThreads(out var workers, out var io);
        ThreadPool.SetMinThreads(Math.Max(workers, s.Devices + 64), io);
        var stations = new BenchStation[s.Devices];
        try
        {
            for (var d = 0; d < s.Devices; d++) stations[d] = BenchStation.Open(options, $"{s.Run}-{d:D4}", dir, s.Backlog, s.RecordsPerMessage);
            // Every backlog is in its store before the first station connects, so the drain measures sending and not the appends.
            phase("drain-start");
            var drainWatch = Stopwatch.StartNew();
            foreach (var x in stations) await x.ConnectAsync();
            var connectDeadline = Stopwatch.StartNew();
            while (stations.Any(x => !x.Connection.IsConnected) && connectDeadline.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(100);
            long drained = 0;
            var drainSeconds = 0.0;
            if (s.Backlog > 0)
            {
                while (stations.Any(x => x.Store.PendingCount > 0) && drainWatch.Elapsed < TimeSpan.FromSeconds(300)) await Task.Delay(50);
                drainSeconds = drainWatch.Elapsed.TotalSeconds;
                drained = (long)s.Devices * s.Backlog - stations.Sum(x => x.Store.PendingCount);
            }

            using var stop = new CancellationTokenSource();
            var period = TimeSpan.FromSeconds(1 / s.Rate);
            var producers = stations.Select((x, i) => Task.Factory.StartNew(
                () => x.Produce(period, TimeSpan.FromMilliseconds(period.TotalMilliseconds * i / s.Devices), stop.Token),
                CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
            await Task.Delay(TimeSpan.FromSeconds(s.Warmup));
            foreach (var x in stations) x.Measure = true;
            var appended0 = stations.Sum(x => x.Appended);
            phase("window-start");
            var sw = Stopwatch.StartNew();
            await Task.Delay(TimeSpan.FromSeconds(s.Seconds));
            phase("window-end");
            var elapsed = sw.Elapsed.TotalSeconds;
            foreach (var x in stations) x.Measure = false;
            var appendedInWindow = stations.Sum(x => x.Appended) - appended0;
            await stop.CancelAsync();
            await Task.WhenAll(producers);
            var drain = Stopwatch.StartNew();
            while (stations.Any(x => x.Store.PendingCount > 0) && drain.Elapsed < TimeSpan.FromSeconds(120)) await Task.Delay(200);
            var latencies = stations.SelectMany(x => x.Latencies).Order().ToArray();
            return new FleetResult(drained, drainSeconds, appendedInWindow, elapsed, Percentile(latencies, 0.50), Percentile(latencies, 0.99),
                latencies.Length > 0 ? latencies[^1] : 0, latencies.Length, stations.Sum(x => x.Appended), stations.Sum(x => x.Store.PendingCount),
                stations.Sum(x => x.Uplink.Resent));
        }
        finally
        {
            foreach (var x in stations.Where(x => x is not null)) await x.DisposeAsync();
        }
    }

    private static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
}
