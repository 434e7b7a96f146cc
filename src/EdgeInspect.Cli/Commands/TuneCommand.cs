using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeInspect.Cli.CommandLine;
using EdgeInspect.Core.Evaluation;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Core.Packages;

namespace EdgeInspect.Cli.Commands;

/// <summary>
/// <c>model tune</c>: the decision's region threshold chosen on a labelled val split for a line's goal (the lowest
/// escape rate under a false-reject ceiling, or the reverse), the table of every grid value, and with --write the
/// chosen point and its val figures written into the manifest.
/// </summary>
internal static class TuneCommand
{
    /// <summary>The false-reject ceiling when neither ceiling is given.</summary>
    public const double DefaultMaxFalseReject = 0.10;

    private const string SignatureFile = "manifest.sig";

    public static Command Create()
    {
        var model = CliOptions.Model();
        var dataset = new Option<string>("--dataset", "-d") { Description = "labelled dataset: Pascal VOC (images/, annotations/) or one folder per class", Required = true };
        var split = new Option<string?>("--split") { Description = "the val split the point is chosen on, one image name a line (required: never the training or test images)" };
        var maxFalseReject = new Option<double?>("--max-false-reject") { Description = $"choose the lowest escape rate whose false-reject rate is at most this (0..1; the goal when neither ceiling is given: {DefaultMaxFalseReject})" }
            .Check(v => v is null or (>= 0 and <= 1) ? null : $"must be 0..1, got {v}");
        var maxEscape = new Option<double?>("--max-escape") { Description = "choose the lowest false-reject rate whose escape rate is at most this (0..1)" }
            .Check(v => v is null or (>= 0 and <= 1) ? null : $"must be 0..1, got {v}");
        var grid = new Option<string?>("--grid") { Description = "region thresholds to try, comma separated (default 0.05 to 0.95 by 0.05, 0.97, 0.99, and the package's own)" };
        var write = new Option<bool>("--write") { Description = "write the chosen threshold and its val figures into the package's manifest.json (a signed package: only into a copy, --out)" };
        var outDir = new Option<string?>("--out") { Description = "with --write: copy the package to this new folder and tune the copy (unsigned: sign it again with edgeinspect-fleet pack)" };
        var json = CliOptions.Json();
        var providers = CliOptions.Providers();
        var command = new Command("tune", "choose the decision's region threshold on a labelled val split: the lowest escape rate (NG parts passed) under a false-reject ceiling, or the reverse; prints every grid value's rates with Wilson 95 % intervals")
        {
            model, dataset, split, maxFalseReject, maxEscape, grid, write, outDir, json, providers,
        };
        command.SetAction(parse => CliErrors.Guard(() =>
        {
            string modelDir = parse.GetValue(model)!;
            string? splitFile = parse.GetValue(split)
                ?? throw new CliException("--split is required: model tune chooses a threshold on the parts it is given, so without a separate val split it "
                    + "would choose on every image, test parts included, and report figures the package will not reach on new parts; give the val split (e.g. --split DATA/val.txt)");
            if (parse.GetValue(maxFalseReject) is not null && parse.GetValue(maxEscape) is not null)
                throw new CliException("--max-false-reject and --max-escape: give one ceiling; the other rate is the one minimised");
            if (parse.GetValue(outDir) is not null && !parse.GetValue(write)) throw new CliException("--out is where --write writes the tuned copy: add --write");
            if (parse.GetValue(write)) RefuseSignedInPlace(modelDir, parse.GetValue(outDir));
            var goal = parse.GetValue(maxEscape) is { } e
                ? new TuningGoal(TuningTarget.LowestFalseReject, e)
                : new TuningGoal(TuningTarget.LowestEscape, parse.GetValue(maxFalseReject) ?? DefaultMaxFalseReject);

            var original = ManifestReader.Read(modelDir);
            RefuseTrainingSplit(original, splitFile);
            var data = LabelledDataset.Open(parse.GetValue(dataset)!, splitFile);
            // Both rates need both kinds of part; say so before minutes of inference, not after.
            int okParts = data.Images.Count(i => !i.IsNg);
            OperatingPointSearch.CheckMeasurable(data.Images.Count - okParts, okParts);
            float current = CurrentThreshold(original);
            var values = ParseGrid(parse.GetValue(grid)).Append(current).ToList();
            // A one-stage detector keeps its own threshold (InspectorSession lowers only a refinement stage): values
            // below it are not reachable by the decision alone.
            float reachable = original.Detector is { Stages.Count: 1 } single ? single.Stages[0].Threshold : 0f;
            var dropped = values.Where(v => v < reachable).ToList();
            values.RemoveAll(v => v < reachable);
            if (values.Count == 0) throw new CliException($"--grid: every value is below the one-stage detector's threshold {reachable}, which the decision cannot lower");
            if (dropped.Count > 0) Console.Error.WriteLine($"tune: skipped grid values below the one-stage detector's threshold {reachable}: {string.Join(", ", dropped)}");

            using var loggers = InspectionCommands.StderrLoggers();
            using var session = InspectorSession.Open(modelDir, parse.GetValue(providers)!, loggers, values.Min());
            var parts = new List<ScoredPart>(data.Images.Count);
            foreach (var item in data.Images)
            {
                using var image = session.Ops.Decode(item.ImagePath);
                parts.Add(new ScoredPart(item, session.Inspector.Inspect(image).Regions));
                if (parts.Count % 50 == 0) Console.Error.WriteLine($"tune: {parts.Count} of {data.Images.Count} parts inspected");
            }
            var classes = session.Inspector.Policy.Classes;
            var table = OperatingPointSearch.Sweep(parts, original.Decision, classes, original.Classifier?.WholeImageWeight ?? 1f, values);
            var chosen = OperatingPointSearch.Choose(table, goal);
            var before = table.First(r => r.MinRegionScore == current);

            string? written = null;
            if (parse.GetValue(write))
            {
                written = Write(modelDir, parse.GetValue(outDir), chosen, Figures(goal, data, parse.GetValue(dataset)!, splitFile, chosen, before), parse.GetValue(providers)!);
            }
            if (parse.GetValue(json))
            {
                var doc = new
                {
                    model = original.Name,
                    version = original.Version,
                    dataset = Path.GetFullPath(parse.GetValue(dataset)!),
                    split = Path.GetFullPath(splitFile),
                    parts = parts.Count,
                    goal = GoalText(goal),
                    current,
                    chosen,
                    table,
                    written,
                };
                Console.WriteLine(JsonSerializer.Serialize(doc, Json));
            }
            else
            {
                Console.Write(TableText(original, data, goal, table, chosen, current));
                if (written is not null) Console.WriteLine(WrittenText(modelDir, written, chosen));
            }
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>The threshold a region needs to count today: the decision's, or the last stage's where that is higher.</summary>
    private static float CurrentThreshold(ModelManifest m) =>
        MathF.Max(m.Decision.MinRegionScore, m.Detector is { Stages.Count: > 0 } d ? d.Stages[^1].Threshold : 0f);

    private static IEnumerable<float> ParseGrid(string? text)
    {
        if (text is null) return OperatingPointSearch.DefaultGrid;
        var values = new List<float>();
        foreach (string part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!float.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) || v is < 0f or >= 1f)
                throw new CliException($"--grid: '{part}' is not a threshold in [0, 1)");
            values.Add(v);
        }
        return values.Count > 0 ? values : throw new CliException("--grid: no thresholds given");
    }

    /// <summary>Choosing on the images the networks were trained on would flatter every threshold alike.</summary>
    private static void RefuseTrainingSplit(ModelManifest m, string splitFile)
    {
        if (m.Provenance?.GetValueOrDefault("trainSplit")?.ToString() is { Length: > 0 } train
            && string.Equals(Path.GetFullPath(train), Path.GetFullPath(splitFile), StringComparison.Ordinal))
        {
            throw new CliException($"--split: {splitFile} is the split the package was trained on (provenance.trainSplit); choose on the val split");
        }
    }

    private static JsonObject Figures(TuningGoal goal, LabelledDataset data, string dataset, string split, OperatingPoint chosen, OperatingPoint before)
    {
        JsonNode? Node<T>(T value) => JsonSerializer.SerializeToNode(value, Json);
        return new JsonObject
        {
            ["minRegionScore"] = chosen.MinRegionScore,
            ["goal"] = GoalText(goal),
            ["chosenBy"] = "edgeinspect model tune",
            ["dataset"] = Path.GetFullPath(dataset),
            ["split"] = Path.GetFullPath(split),
            ["parts"] = data.Images.Count,
            ["escape"] = Node(chosen.Outcomes.Escape),
            ["falseReject"] = Node(chosen.Outcomes.FalseReject),
            ["catchPerClass"] = Node(chosen.Outcomes.CatchPerClass),
            ["before"] = new JsonObject
            {
                ["minRegionScore"] = before.MinRegionScore,
                ["escape"] = Node(before.Outcomes.Escape),
                ["falseReject"] = Node(before.Outcomes.FalseReject),
            },
        };
    }

    /// <summary>
    /// Writes the tuned manifest into the package (or a copy), then runs the golden images of the result; a golden
    /// image the new point fails undoes the write. A signed package is never changed in place: manifest.sig covers the
    /// manifest's exact bytes, so the tuned manifest goes into an unsigned copy that has to be signed again.
    /// </summary>
    private static string Write(string modelDir, string? outDir, OperatingPoint chosen, JsonObject figures, IReadOnlyList<string> providers)
    {
        RefuseSignedInPlace(modelDir, outDir);
        string target = outDir ?? modelDir;
        if (outDir is not null)
        {
            if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any()) throw new CliException($"--out: {outDir} exists and is not empty");
            CopyPackage(modelDir, outDir);
        }
        string manifestPath = Path.Combine(target, ManifestReader.FileName);
        byte[] old = File.ReadAllBytes(manifestPath);
        byte[] tuned = TunedManifest.Apply(old, chosen.MinRegionScore, figures, manifestPath);
        Replace(manifestPath, tuned);
        IReadOnlyList<string> failures;
        using (var loggers = InspectionCommands.StderrLoggers())
        using (var session = InspectorSession.Open(target, providers, loggers))
        {
            failures = GoldenCheck.Run(session.Package, session.Inspector, session.Ops);
        }
        if (failures.Count > 0)
        {
            if (outDir is null) Replace(manifestPath, old);
            else Directory.Delete(outDir, recursive: true);
            throw new CliException($"--write: at {chosen.MinRegionScore} the package's golden images fail ({string.Join("; ", failures)}), so nothing was written; "
                + "choose another point (--grid) or renew the golden images with the trainer", ExitCodes.Problems);
        }
        return Path.GetFullPath(target);
    }

    /// <summary>Checked before any inference as well as at the write: a signed package is tuned only into a copy.</summary>
    private static void RefuseSignedInPlace(string modelDir, string? outDir)
    {
        if (outDir is null && File.Exists(Path.Combine(modelDir, SignatureFile)))
        {
            throw new CliException($"--write: {modelDir} is signed ({SignatureFile} covers manifest.json byte for byte), so tuning it in place would leave a "
                + "signature no device accepts; write an unsigned copy with --out DIR and sign that with edgeinspect-fleet pack");
        }
    }

    /// <summary>Every file of the package but its signature, which would not match the tuned manifest.</summary>
    private static void CopyPackage(string from, string to)
    {
        foreach (string file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(from, file);
            if (relative == SignatureFile) continue;
            string dest = Path.Combine(to, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
            File.Copy(file, dest);
        }
    }

    /// <summary>Write beside, then rename: a crash leaves the old manifest or the new one, never half of one.</summary>
    private static void Replace(string path, byte[] bytes)
    {
        string temp = path + ".tmp";
        File.WriteAllBytes(temp, bytes);
        File.Move(temp, path, overwrite: true);
    }

    private static string GoalText(TuningGoal goal)
    {
        string ceiling = (goal.Ceiling * 100).ToString("0.#", CultureInfo.InvariantCulture);
        return goal.Target == TuningTarget.LowestEscape
            ? $"lowest escape rate with the false-reject rate at most {ceiling} %"
            : $"lowest false-reject rate with the escape rate at most {ceiling} %";
    }

    private static string TableText(ModelManifest m, LabelledDataset data, TuningGoal goal, IReadOnlyList<OperatingPoint> table, OperatingPoint chosen, float current)
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new System.Text.StringBuilder();
        var first = table[0].Outcomes;
        sb.AppendLine(ci, $"model {m.Name} v{m.Version} on {data.Images.Count} parts ({first.Escape.Of} NG, {first.FalseReject.Of} OK); goal: {GoalText(goal)}");
        sb.AppendLine(ci, $"{"region threshold",16}  {"escape rate (NG passed)",-40}  {"false-reject rate (OK rejected)",-40}");
        foreach (var row in table)
        {
            string mark = (row == chosen ? " <- chosen" : "") + (row.MinRegionScore == current ? " (package now)" : "");
            sb.AppendLine(ci, $"{row.MinRegionScore,16:0.###}  {row.Outcomes.Escape.ToText(),-40}  {row.Outcomes.FalseReject.ToText(),-40}{mark}");
        }
        sb.AppendLine(ci, $"chosen: region threshold {chosen.MinRegionScore:0.###}");
        sb.Append(chosen.Outcomes.ToText());
        return sb.ToString();
    }

    private static string WrittenText(string modelDir, string written, OperatingPoint chosen)
    {
        bool copy = !string.Equals(Path.GetFullPath(modelDir), written, StringComparison.Ordinal);
        string text = string.Create(CultureInfo.InvariantCulture,
            $"wrote decision.minRegionScore {chosen.MinRegionScore:0.###} and metrics.{TunedManifest.MetricsKey} into {Path.Combine(written, ManifestReader.FileName)}; golden images pass");
        return copy ? text + $"\nthe copy is unsigned: sign it with `edgeinspect-fleet pack {written} --key KEY --out ARCHIVE.tar` (and a higher --version) before a device will take it" : text;
    }

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };
}
