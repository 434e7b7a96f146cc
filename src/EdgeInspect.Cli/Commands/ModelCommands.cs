using System.CommandLine;
using EdgeInspect.Cli.CommandLine;
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

/// <summary>Verbs: eval (a package over a labelled dataset), model check (validate a package and run its golden images), model tune (<see cref="TuneCommand"/>).</summary>
internal static class ModelCommands
{
    public static IEnumerable<Command> Create() => [CreateEval(), CreateModel()];

    private static Command CreateEval()
    {
        var model = CliOptions.Model();
        var dataset = new Option<string>("--dataset", "-d") { Description = "labelled dataset: Pascal VOC (images/, annotations/) or one folder per class", Required = true };
        var split = new Option<string?>("--split") { Description = "file listing the images to use, one name a line (e.g. val.txt)" };
        var json = CliOptions.Json();
        var apFloor = new Option<float>("--ap-floor")
        {
            Description = "score the last stage keeps boxes down to for average precision (the precision / recall curve past the package's threshold); the package's threshold or above: AP of the operating point's boxes only",
            DefaultValueFactory = _ => 0.05f,
        };
        apFloor.Check(v => v is >= 0f and < 1f ? null : $"must be in [0, 1), got {v}");
        var providers = CliOptions.Providers();
        var command = new Command("eval", "run the model package (cascade, classifier, decision) over a labelled dataset and print detection precision/recall at IoU 0.5, average precision (AP, mAP) and detection by class, per-class precision/recall/F1, the confusion matrix and part-level OK/NG accuracy");
        command.Options.Add(model);
        command.Options.Add(dataset);
        command.Options.Add(split);
        command.Options.Add(json);
        command.Options.Add(apFloor);
        command.Options.Add(providers);
        command.SetAction(parse => CliErrors.Guard(() =>
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
                var classProbabilities = PartClassProbabilities(result, manifest.Classifier?.Classes);
                // The operating point: the boxes above the package's own last threshold (the floor only adds boxes
                // below it, see InspectorSession.Open).
                var prediction = session.OperatingThreshold is { } t
                    ? curve with { Boxes = [.. curve.Boxes.Where(b => b.Score > t)] }
                    : curve;
                accumulator.Add(item, prediction, curve.Boxes, classProbabilities);
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
        var model = CliOptions.Model();
        var providers = CliOptions.Providers();
        var json = CliOptions.Json();
        var check = new Command("check", "validate a package (hashes, files, fields, network input shapes) and run its golden images; exit 0 only when all pass, 1 when a golden image fails, 2 when the package is refused");
        check.Options.Add(model);
        check.Options.Add(providers);
        check.Options.Add(json);
        check.SetAction(parse => CliErrors.Guard(() =>
        {
            using var loggers = StderrLoggers();
            using var session = InspectorSession.Open(parse.GetValue(model)!, parse.GetValue(providers)!, loggers);
            var manifest = session.Package.Manifest;
            var failures = GoldenCheck.Run(session.Package, session.Inspector, session.Ops);
            foreach (var line in failures) CliErrors.Fail($"golden: {line}", ExitCodes.Problems);
            if (parse.GetValue(json))
            {
                var doc = new { model = manifest.Name, version = manifest.Version, valid = true, golden = manifest.Golden.Count, failures };
                Console.WriteLine(JsonSerializer.Serialize(doc, ReportJson));
            }
            else
            {
                Console.WriteLine(failures.Count == 0
                    ? $"{manifest.Name} v{manifest.Version}: valid, {manifest.Golden.Count} golden image(s) pass"
                    : $"{manifest.Name} v{manifest.Version}: {failures.Count} golden image(s) fail");
            }
            return failures.Count == 0 ? ExitCodes.Ok : ExitCodes.Problems;
        }));
        modelCommand.Subcommands.Add(check);
        modelCommand.Subcommands.Add(TuneCommand.Create());
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

    /// <summary>
    /// Each detected region's probability of the part's class, in the order of <see cref="ToPrediction"/>'s boxes; null
    /// without a classifier or when the part's class is not one of its classes (OK from no region).
    /// </summary>
    internal static float[]? PartClassProbabilities(InspectionResult result, List<string>? classes)
    {
        int c = classes is null ? -1 : classes.IndexOf(result.PartClass);
        if (c < 0) return null;
        var probs = new List<float>(result.Regions.Count);
        foreach (var r in result.Regions)
        {
            if (r.WholeFrame) continue;
            if (r.ClassProbabilities.Length <= c) return null; // a region the classifier did not see
            probs.Add(r.ClassProbabilities[c]);
        }
        return [.. probs];
    }

    private static readonly JsonSerializerOptions ReportJson = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private static ILoggerFactory StderrLoggers() => InspectionCommands.StderrLoggers();
}
