using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Evaluation;
using EdgeInspect.Core.Geometry;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Inference;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Core.Packages;
using EdgeInspect.Imaging.OpenCv;
using EdgeInspect.Inference.Onnx;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Cli.Commands;

/// <summary>Verbs: eval (a package over a labelled dataset), model check (validate a package and run its golden images). Issue 3.</summary>
internal static class ModelCommands
{
    public static IEnumerable<Command> Create() => [CreateEval(), CreateModel()];

    private static Option<string> ModelOption() => new("--model", "-m") { Description = "model package folder (manifest.json and the files it names)", Required = true };

    private static Option<string> ProvidersOption() => new("--providers")
    {
        Description = "execution providers in preference order, comma separated (tensorrt,cuda,cpu)",
        DefaultValueFactory = _ => "cpu",
    };

    private static Command CreateEval()
    {
        var model = ModelOption();
        var dataset = new Option<string>("--dataset", "-d") { Description = "labelled dataset: Pascal VOC (images/, annotations/) or one folder per class", Required = true };
        var split = new Option<string?>("--split") { Description = "file listing the images to use, one name a line (e.g. val.txt)" };
        var json = new Option<bool>("--json") { Description = "print the report as JSON" };
        var apFloor = new Option<float>("--ap-floor")
        {
            Description = "score the last stage keeps boxes down to for average precision (the precision / recall curve past the package's threshold); the package's threshold or above: AP of the operating point's boxes only",
            DefaultValueFactory = _ => 0.05f,
        };
        apFloor.Validators.Add(r =>
        {
            float v = r.GetValueOrDefault<float>();
            if (!(v is >= 0f and < 1f)) r.AddError($"--ap-floor must be in [0, 1), got {v}");
        });
        var providers = ProvidersOption();
        var command = new Command("eval", "run the model package (cascade, classifier, decision) over a labelled dataset and print detection precision/recall at IoU 0.5, average precision (AP, mAP) and detection by class, per-class precision/recall/F1, the confusion matrix and part-level OK/NG accuracy");
        command.Options.Add(model);
        command.Options.Add(dataset);
        command.Options.Add(split);
        command.Options.Add(json);
        command.Options.Add(apFloor);
        command.Options.Add(providers);
        command.SetAction(parse => Guarded("eval", () =>
        {
            var data = LabelledDataset.Open(parse.GetValue(dataset)!, parse.GetValue(split));
            using var loggers = StderrLoggers();
            using var session = InspectorSession.Open(parse.GetValue(model)!, parse.GetValue(providers)!, loggers, parse.GetValue(apFloor));
            var manifest = session.Package.Manifest;
            var accumulator = new EvaluationAccumulator([.. manifest.Classifier?.Classes ?? [DecisionPolicy.DefectClass], LabelledImage.OkClass],
                scoreFloor: session.ScoreFloor);
            var watch = Stopwatch.StartNew();
            foreach (var item in data.Images)
            {
                using var image = session.Ops.Decode(item.ImagePath);
                var result = session.Inspector.Inspect(image);
                var curve = ToPrediction(result, image.Width, image.Height);
                // The operating point: the boxes above the package's own last threshold (the floor only adds boxes
                // below it, see InspectorSession.Open).
                var prediction = session.OperatingThreshold is { } t
                    ? curve with { Boxes = [.. curve.Boxes.Where(b => b.Score > t)] }
                    : curve;
                accumulator.Add(item, prediction, curve.Boxes);
            }
            watch.Stop();
            var report = accumulator.Report();
            if (parse.GetValue(json))
            {
                var doc = new
                {
                    model = manifest.Name,
                    version = manifest.Version,
                    dataset = Path.GetFullPath(parse.GetValue(dataset)!),
                    split = parse.GetValue(split),
                    format = data.Format,
                    skippedMissing = data.SkippedMissing,
                    seconds = Math.Round(watch.Elapsed.TotalSeconds, 1),
                    report,
                };
                Console.WriteLine(JsonSerializer.Serialize(doc, ReportJson));
            }
            else
            {
                Console.WriteLine($"model {manifest.Name} v{manifest.Version} on {data.Images.Count} images ({data.Format}{(data.SkippedMissing > 0 ? $", {data.SkippedMissing} split entries absent and skipped" : "")}), {watch.Elapsed.TotalSeconds:0.0} s");
                Console.Write(report.ToText());
            }
            return 0;
        }));
        return command;
    }

    private static Command CreateModel()
    {
        var modelCommand = new Command("model", "model packages");
        var model = ModelOption();
        var providers = ProvidersOption();
        var check = new Command("check", "validate a package (hashes, files, fields, network input shapes) and run its golden images; exit 0 only when all pass");
        check.Options.Add(model);
        check.Options.Add(providers);
        check.SetAction(parse => Guarded("model check", () =>
        {
            using var loggers = StderrLoggers();
            using var session = InspectorSession.Open(parse.GetValue(model)!, parse.GetValue(providers)!, loggers);
            var failures = GoldenCheck.Run(session.Package, session.Inspector, session.Ops);
            foreach (var line in failures) Console.Error.WriteLine($"edgeinspect model check: {line}");
            Console.WriteLine(failures.Count == 0
                ? $"{session.Package.Manifest.Name} v{session.Package.Manifest.Version}: valid, {session.Package.Manifest.Golden.Count} golden image(s) pass"
                : $"{session.Package.Manifest.Name} v{session.Package.Manifest.Version}: {failures.Count} golden image(s) fail");
            return failures.Count == 0 ? 0 : 1;
        }));
        modelCommand.Subcommands.Add(check);
        return modelCommand;
    }

    /// <summary>Boxes clipped to the image (the cascade's boxes may reach past the border; labels never do).</summary>
    internal static Prediction ToPrediction(InspectionResult result, int width, int height)
    {
        var boxes = new List<(BoxF, float)>(result.Regions.Count);
        foreach (var r in result.Regions)
        {
            if (r.WholeFrame) continue; // a frame-level class, not a detection
            var b = r.Box;
            boxes.Add((new BoxF(Math.Clamp(b.X1, 0, width), Math.Clamp(b.Y1, 0, height), Math.Clamp(b.X2, 0, width), Math.Clamp(b.Y2, 0, height)), r.Score));
        }
        return new Prediction(boxes, result.PartClass, result.Verdict);
    }

    private static readonly JsonSerializerOptions ReportJson = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    /// <summary>Known failures become one line on stderr naming the file or field, and exit code 2; no stack trace.</summary>
    private static int Guarded(string verb, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception ex) when (ex is ModelPackageException or NetworkLoadException or ImageDecodeException or DatasetException
                                       or ArgumentException or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"edgeinspect {verb}: {ex.Message}");
            return 2;
        }
    }

    private static ILoggerFactory StderrLoggers() => InspectionCommands.StderrLoggers();

    /// <summary>A validated package, its inspector and the image ops, opened and disposed together.</summary>
    internal sealed class InspectorSession : IDisposable
    {
        private InspectorSession(ModelPackage package, PackageInspector inspector, OpenCvImageOps ops, float? operatingThreshold)
        {
            Package = package;
            Inspector = inspector;
            Ops = ops;
            OperatingThreshold = operatingThreshold;
        }

        public ModelPackage Package { get; }
        public PackageInspector Inspector { get; }
        public OpenCvImageOps Ops { get; }
        /// <summary>The package's own last-stage threshold when a score floor lowered it for this session; else null.</summary>
        public float? OperatingThreshold { get; }
        /// <summary>The floor the last stage runs with when one lowered its threshold (then the AP curve's floor); else null.</summary>
        public float? ScoreFloor => OperatingThreshold is null ? null : Package.Manifest.Detector!.Stages[^1].Threshold;

        /// <param name="scoreFloor">
        /// For evaluation only: run the last stage with its threshold lowered to this floor, so its boxes below the
        /// package's threshold can be scored too. Exact for what the package itself gives: the last stage keeps
        /// scores above its threshold before a greedy NMS, and a greedy NMS never lets a lower-scored box remove a
        /// higher one, so the package's boxes are the floor run's boxes that score above the package's threshold.
        /// (A refinement stage only: a one-stage detector keeps its boxes otherwise.) The decision's MinRegionScore is
        /// raised just past that threshold, so the verdict and the part class count
        /// the same regions as the package does.
        /// </param>
        public static InspectorSession Open(string modelDir, string providers, ILoggerFactory loggers, float? scoreFloor = null)
        {
            var package = ModelPackage.Open(modelDir);
            float? operating = null;
            if (scoreFloor is { } floor && package.Manifest.Detector is { Stages.Count: > 1 } detector && floor < detector.Stages[^1].Threshold)
            {
                var last = detector.Stages[^1];
                operating = last.Threshold;
                last.Threshold = floor;
                package.Manifest.Decision.MinRegionScore = MathF.Max(package.Manifest.Decision.MinRegionScore, MathF.BitIncrement(operating.Value));
            }
            var options = new InferenceOptions
            {
                Providers = providers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            };
            options.Validate();
            var ops = new OpenCvImageOps();
            try
            {
                var inspector = PackageInspector.Open(package, new OnnxNetworkFactory(loggers.CreateLogger<OnnxNetworkFactory>()), options, ops);
                return new InspectorSession(package, inspector, ops, operating);
            }
            catch
            {
                ops.Dispose();
                throw;
            }
        }

        public void Dispose()
        {
            Inspector.Dispose();
            Ops.Dispose();
        }
    }
}
