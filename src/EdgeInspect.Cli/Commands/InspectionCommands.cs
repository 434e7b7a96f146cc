using System.Diagnostics;
using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using EdgeInspect.Cli.CommandLine;
using EdgeInspect.Core.Detection;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Inference;
using EdgeInspect.Core.Packages;
using EdgeInspect.Imaging.OpenCv;
using EdgeInspect.Inference.Onnx;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Cli.Commands;

/// <summary>
/// Verbs: detect, bench cascade. Other bench subcommands plug in through the partial method
/// <see cref="AddBenchSubcommands"/>, implemented in their own file, so this file needs no edit.
/// </summary>
internal static partial class InspectionCommands
{
    public static IEnumerable<Command> Create() => [CreateDetect(), CreateBench()];

    /// <summary>Implement in another file of this partial class to add subcommands to `bench` (e.g. `bench pipeline`).</summary>
    static partial void AddBenchSubcommands(Command bench);

    private static Argument<string[]> ImagesArgument() => new("images")
    {
        Description = "image files",
        Arity = ArgumentArity.OneOrMore,
    };

    private static Command CreateDetect()
    {
        var cascade = new CascadeRunOptions();
        var images = ImagesArgument();
        var command = new Command("detect", "run the detection cascade on images; one JSON object per image per line");
        cascade.AddTo(command);
        command.Arguments.Add(images);
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            using var loggers = StderrLoggers();
            using var session = DetectorSession.Open(parse.GetValue(cascade.Model)!, cascade.Inference(parse), parse.GetValue(cascade.ImageWorkers), loggers);
            int failures = 0;
            var stdout = Console.OpenStandardOutput();
            foreach (var path in parse.GetValue(images)!)
            {
                try
                {
                    using var image = session.Ops.Decode(path);
                    var result = session.Detector.Detect(image);
                    WriteDetectJson(stdout, path, result);
                }
                catch (ImageDecodeException ex)
                {
                    // One unreadable image fails that image, not the run: the others are still detected.
                    CliErrors.Fail(ex.Message);
                    failures++;
                }
            }
            return failures == 0 ? ExitCodes.Ok : ExitCodes.Problems;
        }));
        return command;
    }

    private static Command CreateBench()
    {
        var bench = new Command("bench", "benchmarks (medians over repeated runs, measured on this machine)");
        var run = new CascadeRunOptions();
        var images = ImagesArgument();
        var json = CliOptions.Json();
        var runs = new Option<int>("--runs") { Description = "timed runs per image", DefaultValueFactory = _ => 50 }.InRange(1);
        var warmup = new Option<int>("--warmup") { Description = "untimed runs per image first, round robin over the images, for at least 3 s (past the JIT's tier-up, so the first image is measured warm too)", DefaultValueFactory = _ => 30 }
            .InRange(1, why: "allocation is measured once warm");
        var cascade = new Command("cascade", "per image: median whole-cascade time, median time inside the model runs, their ratio, allocated bytes per warm call");
        run.AddTo(cascade);
        cascade.Options.Add(runs);
        cascade.Options.Add(warmup);
        cascade.Options.Add(json);
        cascade.Arguments.Add(images);
        cascade.SetAction(parse => CliErrors.Guard(() =>
        {
            int n = parse.GetValue(runs), w = parse.GetValue(warmup);
            using var loggers = StderrLoggers();
            using var session = DetectorSession.Open(parse.GetValue(run.Model)!, run.Inference(parse), parse.GetValue(run.ImageWorkers), loggers);
            var paths = parse.GetValue(images)!;
            var decoded = new List<ImageBuffer>();
            try
            {
                foreach (var path in paths) decoded.Add(session.Ops.Decode(path));
                WarmUp(session.Detector, decoded, w);
                var rows = new List<BenchRow>();
                for (int i = 0; i < decoded.Count; i++) rows.Add(BenchOne(session.Detector, decoded[i], paths[i], n));
                if (parse.GetValue(json)) WriteBenchJson(rows, session, n);
                else WriteBenchTable(rows, session, n);
            }
            finally
            {
                foreach (var d in decoded) d.Dispose();
            }
            return 0;
        }));
        bench.Subcommands.Add(cascade);
        AddBenchSubcommands(bench);
        return bench;
    }

    private sealed record BenchRow(string Image, int Width, int Height, int Boxes, double CascadeMs, double ModelMs, double Ratio, long AllocatedBytesPerCall, double[] StageMs, double[] StageModelMs);

    /// <summary>
    /// Every image <paramref name="runs"/> times, round robin, and on until 3 s have passed: the JIT promotes hot
    /// methods to optimised code only after about 30 calls and a quiet spell, so a short warm-up timed the first
    /// image partly on unoptimised code (measured: the P-Net map scan took 0.45 ms on it, 0.05 ms warm).
    /// </summary>
    private static void WarmUp(CascadeDetector detector, List<ImageBuffer> images, int runs)
    {
        var clock = Stopwatch.StartNew();
        for (int round = 0; round < runs || clock.Elapsed < TimeSpan.FromSeconds(3); round++)
        {
            foreach (var image in images) detector.Detect(image);
        }
    }

    private static BenchRow BenchOne(CascadeDetector detector, ImageBuffer image, string path, int runs)
    {
        var total = new double[runs];
        var model = new double[runs];
        int stageCount = detector.Spec.Stages.Count;
        var stage = new double[stageCount][];
        for (int s = 0; s < stageCount; s++) stage[s] = new double[runs];
        var stageModel = new double[stageCount][];
        for (int s = 0; s < stageCount; s++) stageModel[s] = new double[runs];
        long allocated = 0;
        int boxes = 0;
        for (int i = 0; i < runs; i++)
        {
            long a0 = GC.GetAllocatedBytesForCurrentThread();
            var r = detector.Detect(image);
            allocated += GC.GetAllocatedBytesForCurrentThread() - a0;
            total[i] = r.TotalMs;
            model[i] = r.ModelMs;
            for (int s = 0; s < stageCount; s++)
            {
                stage[s][i] = r.Stages[s].TotalMs;
                stageModel[s][i] = r.Stages[s].ModelMs;
            }
            boxes = r.Count;
        }
        double mt = Median(total), mm = Median(model);
        return new BenchRow(Path.GetFileName(path), image.Width, image.Height, boxes, mt, mm, mm > 0 ? mt / mm : 0,
            allocated / runs, [.. stage.Select(Median)], [.. stageModel.Select(Median)]);
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        int m = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
    }

    private static string[] StageNames(DetectorSession session) =>
        [.. session.Detector.Spec.Stages.Select((s, i) => string.IsNullOrEmpty(s.Name) ? $"stage{i + 1}" : s.Name)];

    private static void WriteBenchTable(List<BenchRow> rows, DetectorSession session, int runs)
    {
        var ci = CultureInfo.InvariantCulture;
        var names = StageNames(session);
        var sb = new StringBuilder();
        sb.AppendLine(ci, $"bench cascade: {runs} runs per image, provider {session.Provider}, {Environment.ProcessorCount} cores, {session.Detector.Lanes} network lanes, {session.Ops.Workers} image workers");
        sb.Append(ci, $"{"image",-20} {"size",-10} {"boxes",5} {"cascade_ms",11} {"model_ms",9} {"ratio",6} {"alloc_B/call",12}");
        foreach (var n in names) sb.Append(ci, $" {n + "_ms(model)",16}");
        sb.AppendLine();
        foreach (var r in rows)
        {
            sb.Append(ci, $"{r.Image,-20} {r.Width + "x" + r.Height,-10} {r.Boxes,5} {r.CascadeMs,11:F2} {r.ModelMs,9:F2} {r.Ratio,6:F3} {r.AllocatedBytesPerCall,12}");
            for (int s = 0; s < r.StageMs.Length; s++) sb.Append(ci, $" {r.StageMs[s],7:F2} ({r.StageModelMs[s],6:F2})");
            sb.AppendLine();
        }
        Console.Out.Write(sb.ToString());
    }

    private static void WriteBenchJson(List<BenchRow> rows, DetectorSession session, int runs)
    {
        var names = StageNames(session);
        using var stdout = Console.OpenStandardOutput();
        using (var json = new Utf8JsonWriter(stdout))
        {
            json.WriteStartObject();
            json.WriteString("bench", "cascade");
            json.WriteNumber("runs", runs);
            json.WriteString("provider", session.Provider);
            json.WriteNumber("cores", Environment.ProcessorCount);
            json.WriteNumber("lanes", session.Detector.Lanes);
            json.WriteNumber("image_workers", session.Ops.Workers);
            json.WriteStartArray("images");
            foreach (var r in rows)
            {
                json.WriteStartObject();
                json.WriteString("image", r.Image);
                json.WriteNumber("width", r.Width);
                json.WriteNumber("height", r.Height);
                json.WriteNumber("boxes", r.Boxes);
                json.WriteNumber("cascade_ms_median", Math.Round(r.CascadeMs, 3));
                json.WriteNumber("model_ms_median", Math.Round(r.ModelMs, 3));
                json.WriteNumber("ratio", Math.Round(r.Ratio, 4));
                json.WriteNumber("allocated_bytes_per_call", r.AllocatedBytesPerCall);
                json.WriteStartObject("stage_ms_median");
                for (int s = 0; s < names.Length; s++) json.WriteNumber(names[s], Math.Round(r.StageMs[s], 3));
                json.WriteEndObject();
                json.WriteStartObject("stage_model_ms_median");
                for (int s = 0; s < names.Length; s++) json.WriteNumber(names[s], Math.Round(r.StageModelMs[s], 3));
                json.WriteEndObject();
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        stdout.WriteByte((byte)'\n');
    }

    private static void WriteDetectJson(Stream stdout, string path, CascadeResult result)
    {
        using (var json = new Utf8JsonWriter(stdout))
        {
            json.WriteStartObject();
            json.WriteString("image", path);
            json.WriteNumber("width", result.ImageWidth);
            json.WriteNumber("height", result.ImageHeight);
            json.WriteStartArray("detections");
            foreach (var d in result.Detections)
            {
                json.WriteStartObject();
                json.WriteNumber("x1", d.Box.X1);
                json.WriteNumber("y1", d.Box.Y1);
                json.WriteNumber("x2", d.Box.X2);
                json.WriteNumber("y2", d.Box.Y2);
                json.WriteNumber("score", d.Score);
                if (d.LandmarkCount > 0)
                {
                    json.WriteStartArray("landmarks");
                    foreach (var p in result.LandmarksOf(d))
                    {
                        json.WriteStartArray();
                        json.WriteNumberValue(p.X);
                        json.WriteNumberValue(p.Y);
                        json.WriteEndArray();
                    }
                    json.WriteEndArray();
                }
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteStartObject("timings_ms");
            foreach (var s in result.Stages) json.WriteNumber(s.Name, Math.Round(s.TotalMs, 3));
            json.WriteNumber("model", Math.Round(result.ModelMs, 3));
            json.WriteNumber("total", Math.Round(result.TotalMs, 3));
            json.WriteEndObject();
            // Boxes left after each stage: where a cascade loses (or keeps too many) candidates.
            json.WriteStartObject("boxes_after_stage");
            foreach (var s in result.Stages) json.WriteNumber(s.Name, s.Boxes);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        stdout.WriteByte((byte)'\n');
        stdout.Flush();
    }

    /// <summary>Warnings (e.g. a missing execution provider) go to stderr so stdout stays pure JSON.</summary>
    internal static ILoggerFactory StderrLoggers() => LoggerFactory.Create(b => b
        .SetMinimumLevel(LogLevel.Warning)
        .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
        .AddSimpleConsole(o => o.SingleLine = true));
}
