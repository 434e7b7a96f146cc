using System.CommandLine;
using EdgeInspect.Cli.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Detection;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Inference;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Core.Packages;
using EdgeInspect.Imaging.OpenCv;
using EdgeInspect.Imaging.OpenCv.Capture;
using EdgeInspect.Inference.Onnx;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Station.VirtualLine;
using EdgeInspect.Storage.LiteDb;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeInspect.Cli.Commands;

/// <summary>The `bench` subcommands that live beside other verbs: bench store, bench pipeline.</summary>
internal static partial class InspectionCommands
{
    private static readonly JsonSerializerOptions CamelCase = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    static partial void AddBenchSubcommands(Command bench)
    {
        bench.Subcommands.Add(StoreCommands.BenchStore());
        bench.Subcommands.Add(BenchPipeline());
        bench.Subcommands.Add(FootprintBench.Create());
    }

    /// <summary>
    /// Frames through the whole station (folder replay capture, cascade, classifier, policy, durable store, in the
    /// station's own hosted stages) against the cascade alone on the same frames, decoded up front. Both run in one
    /// process, one after the other, so the ratio compares like with like on this machine.
    /// </summary>
    private static Command BenchPipeline()
    {
        var model = CliOptions.Model("model package folder");
        model.Required = false;
        model.DefaultValueFactory = _ => "models/virtual-line";
        var frames = new Option<int>("--frames") { Description = "frames per measured pass", DefaultValueFactory = _ => 200 }.InRange(20);
        var images = new Option<string?>("--images") { Description = "folder of images to replay (default: render virtual-line parts)" };
        var json = CliOptions.Json();
        var lanes = new Option<int>("--lanes") { Description = "network lanes for both sides, as Model:Lanes (1 = one copy; 0 = one per core)", DefaultValueFactory = _ => 1 }.InRange(0, 16);
        var web = new Option<string?>("--web") { Description = "also serve the technician's page at this URL (e.g. http://127.0.0.1:8099) from the measured station" }
            .Check(v => v is null || Uri.TryCreate(v, UriKind.Absolute, out _) ? null : "must be an absolute URL");
        var browser = new Option<string?>("--browser") { Description = "with --web: a Chromium to keep the live page open in, headless, while the station is measured" };
        var cmd = new Command("pipeline", "station throughput (capture replay, cascade, classifier, policy, store) against the cascade alone on the same frames; p50/p99 frame-to-verdict latency; allocated bytes per frame once warm")
        {
            model, frames, images, json, lanes, web, browser,
        };
        cmd.SetAction((parse, ct) => CliErrors.GuardAsync(async () =>
        {
            int n = parse.GetValue(frames);
            string packageDir = StationCommands.ResolvePackage(parse.GetValue(model)!);
            string work = Directory.CreateTempSubdirectory("edgeinspect-bench-pipeline-").FullName;
            try
            {
                string frameDir = parse.GetValue(images) ?? RenderFrames(Path.Combine(work, "frames"), Math.Min(n, 100));
                var options = new InferenceOptions { Lanes = parse.GetValue(lanes) };
                options.Validate();
                if (parse.GetValue(browser) is { } b && (parse.GetValue(web) is null || !File.Exists(b)))
                    throw new CliException(parse.GetValue(web) is null ? "--browser: needs --web" : $"--browser: {b} not found");
                var result = await RunPipelineBench(packageDir, frameDir, work, n, options, parse.GetValue(web), parse.GetValue(browser), ct);
                if (parse.GetValue(json)) Console.WriteLine(JsonSerializer.Serialize(result, CamelCase));
                else Console.Write(result.Table());
                return ExitCodes.Ok;
            }
            finally { Directory.Delete(work, true); }
        }));
        return cmd;
    }

    private static string RenderFrames(string dir, int count)
    {
        Directory.CreateDirectory(dir);
        var renderer = new PartRenderer(new PartRendererOptions { Seed = 7, DefectRate = 0.5 });
        using var image = new ImageBuffer(renderer.Options.Width, renderer.Options.Height);
        for (int i = 0; i < count; i++)
        {
            renderer.Render(i, image);
            ImageFiles.Write(Path.Combine(dir, $"frame_{i:D4}.png"), image);
        }
        return dir;
    }

    internal sealed record PipelineBenchResult(
        string Package, int Frames, int DistinctImages, int Cores,
        double CascadeOnlyFps, double StationFps, double Ratio,
        double LatencyP50Ms, double LatencyP99Ms, long StationAllocatedBytesPerFrame, long CascadeAllocatedBytesPerFrame,
        long FramesDropped, long Records, IReadOnlyDictionary<string, double> StageMeanMs,
        double[] CascadeFpsRounds, double[] StationFpsRounds, string? WebPage)
    {
        public string Table()
        {
            var ci = CultureInfo.InvariantCulture;
            var sb = new StringBuilder();
            sb.AppendLine(ci, $"bench pipeline: package {Package}, {Frames} frames per pass ({DistinctImages} distinct images replayed), {CascadeFpsRounds.Length} alternating rounds, medians, {Cores} cores");
            sb.AppendLine(ci, $"cascade alone (frames decoded up front): {CascadeOnlyFps,8:F1} frames/s (rounds {string.Join(" / ", CascadeFpsRounds.Select(f => f.ToString("F1", ci)))}), {CascadeAllocatedBytesPerFrame} B allocated per frame");
            sb.AppendLine(ci, $"station (replay capture -> cascade -> classifier -> policy -> group-committed durable store): {StationFps,8:F1} frames/s (rounds {string.Join(" / ", StationFpsRounds.Select(f => f.ToString("F1", ci)))}), {StationAllocatedBytesPerFrame} B allocated per frame (all threads)");
            sb.AppendLine(ci, $"ratio station / cascade alone: {Ratio:F3} (target >= 0.9)");
            sb.AppendLine(ci, $"frame-to-verdict latency (capture stamp to stored record, station saturated): p50 {LatencyP50Ms:F1} ms, p99 {LatencyP99Ms:F1} ms");
            sb.AppendLine(ci, $"records stored {Records}, frames dropped {FramesDropped}");
            sb.AppendLine(ci, $"station stage means per part (ms, from the records): {string.Join(", ", StageMeanMs.Select(kv => $"{kv.Key} {kv.Value:F2}"))}");
            if (WebPage is not null) sb.AppendLine(ci, $"technician's page: {WebPage}");
            return sb.ToString();
        }
    }

    private const int PipelineRounds = 3;

    private static async Task<PipelineBenchResult> RunPipelineBench(string packageDir, string frameDir, string work, int n, InferenceOptions options,
        string? webUrl, string? browser, CancellationToken ct)
    {
        using var ops = new OpenCvImageOps();
        var package = ModelPackage.Open(packageDir);

        // (a) The cascade alone, on the same images decoded once into memory.
        var replay = new FolderReplaySource(frameDir, TimeSpan.Zero);
        var decoded = new List<ImageBuffer>();
        foreach (var file in replay.Files) decoded.Add(ops.Decode(file));
        using var detector = CascadeDetector.Open(package, new OnnxNetworkFactory(), options, ops);
        // Warm = one pass over every distinct image: buffers grow to the largest candidate batches and crops
        // this line produces (they grow geometrically and are then reused).
        for (int i = 0; i < decoded.Count; i++) detector.Detect(decoded[i]);

        // (b) The station: its own stages and channels, full mode (the model decides, nobody waits for a button),
        // a durable LiteDB store in a temp folder, warmed the same way.
        var time = TimeProvider.System;
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(work, "bench.db") }, time);
        var state = store.LoadState(); state.Mode = AutomationMode.Full; store.SaveState(state);
        var modes = new ModeController(store, new AutomationGate(new GateOptions()), time);
        var inspectors = new InspectorHost(PackageInspector.Open(package, new OnnxNetworkFactory(), options, new OpenCvImageOps(), ownsImageOps: true));
        StationEngine Engine(IEnumerable<IPartObserver>? observers) =>
            new(new StationOptions { DeviceId = "bench" }, inspectors, modes, store, new SimulatedStationOutputs(), null, time, observers: observers);
        await using var page = webUrl is null ? null : BenchWebPage.Create(webUrl, store, modes, inspectors, time, Engine);
        var engine = page?.Engine ?? Engine(null);
        if (page is not null) await page.StartAsync(webUrl!, browser, ct);
        await RunStation(frameDir, replay.Files.Count, engine, ct);

        // Rounds alternate the two, so a machine that slows down or speeds up mid-run (a shared VM) moves both;
        // the medians of the rounds are compared.
        var cascadeFps = new double[PipelineRounds];
        var stationFps = new double[PipelineRounds];
        long cascadeAlloc = 0, stationAlloc = 0;
        long before = store.LoadState().LastSequence;
        for (int round = 0; round < PipelineRounds; round++)
        {
            long a0 = GC.GetAllocatedBytesForCurrentThread();
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < n; i++) detector.Detect(decoded[i % decoded.Count]);
            cascadeFps[round] = n / sw.Elapsed.TotalSeconds;
            cascadeAlloc += (GC.GetAllocatedBytesForCurrentThread() - a0) / n;

            long alloc0 = GC.GetTotalAllocatedBytes(precise: true);
            var clock = Stopwatch.StartNew();
            await RunStation(frameDir, n, engine, ct);
            stationFps[round] = n / clock.Elapsed.TotalSeconds;
            stationAlloc += (GC.GetTotalAllocatedBytes(precise: true) - alloc0) / n;
        }
        foreach (var d in decoded) d.Dispose();
        var measured = store.Records().Where(r => r.Sequence > before).ToList();
        var latencies = measured.Select(r => (r.DecidedAt - r.CapturedAt).TotalMilliseconds).Order().ToArray();
        inspectors.Swap(null)?.Dispose();
        double cascadeMedian = Median(cascadeFps), stationMedian = Median(stationFps);
        return new PipelineBenchResult(package.Manifest.Name + " " + package.Manifest.Version, n, replay.Files.Count, Environment.ProcessorCount,
            cascadeMedian, stationMedian, stationMedian / cascadeMedian, Percentile(latencies, 0.50), Percentile(latencies, 0.99),
            stationAlloc / PipelineRounds, cascadeAlloc / PipelineRounds, engine.Counters.FramesDropped, measured.Count,
            measured.SelectMany(r => r.LatencyMs).GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => Math.Round(g.Average(kv => kv.Value), 3)),
            cascadeFps, stationFps, webUrl is null ? null : browser is null ? $"page served at {webUrl}" : $"page served at {webUrl}, live page open in {browser}");
    }

    /// <summary>Runs the station's capture and inspection stages over <paramref name="count"/> replayed frames until every one is recorded.</summary>
    private static async Task RunStation(string frameDir, int count, StationEngine engine, CancellationToken ct)
    {
        // Preloaded: frames arrive as raw copies, as from a camera (a PNG decode per frame is the replay's cost, not the station's).
        using var source = new FolderReplaySource(frameDir, TimeSpan.Zero, count, preload: true);
        var channel = new FrameChannel(capacity: 4);
        using var capture = new CaptureStage(source, channel, engine, NullLogger<CaptureStage>.Instance);
        var records = new RecordChannel(capacity: 8);
        using var inspection = new InspectionStage(channel, records, engine, NullLogger<InspectionStage>.Instance);
        using var recorder = new RecordStage(records, engine, NullLogger<RecordStage>.Instance);
        await recorder.StartAsync(ct);
        await inspection.StartAsync(ct);
        await capture.StartAsync(ct);
        await capture.ExecuteTask!;
        await inspection.ExecuteTask!;
        await recorder.ExecuteTask!;
    }

    private static double Percentile(double[] sorted, double q) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
}
