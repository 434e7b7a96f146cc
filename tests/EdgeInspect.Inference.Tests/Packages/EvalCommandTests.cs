using System.Text.Json;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Inference.Tests.Packages;

public sealed class EvalCommandTests
{
    [Trait(TestCategories.Name, TestCategories.Slow)]
    [PackageFact("neu-steel")]
    public void Eval_FolderPerClassOfGoldenImages_ReportsTheirClassesAndNgVerdicts()
    {
        using var pkg = new PackageCopy("neu-steel");
        var golden = JsonDocument.Parse(File.ReadAllText(pkg.ManifestPath)).RootElement.GetProperty("golden");
        string dataset = Directory.CreateTempSubdirectory("edgeinspect-ds-").FullName;
        try
        {
            foreach (var g in golden.EnumerateArray())
            {
                // A golden image without a class is an OK part: the folder layout's "ok" folder.
                string cls = g.TryGetProperty("expectClass", out var c) ? c.GetString()! : "ok";
                Directory.CreateDirectory(Path.Combine(dataset, cls));
                string file = g.GetProperty("file").GetString()!;
                File.Copy(Path.Combine(pkg.Dir, file), Path.Combine(dataset, cls, Path.GetFileName(file)));
            }

            var (code, stdout, stderr) = Cli.Run("eval", "--model", pkg.Dir, "--dataset", dataset, "--json");

            Assert.True(code == 0, stderr);
            var doc = JsonDocument.Parse(stdout).RootElement;
            Assert.Equal("folders", doc.GetProperty("format").GetString());
            var report = doc.GetProperty("report");
            Assert.Equal(golden.GetArrayLength(), report.GetProperty("images").GetInt32());
            Assert.Equal(1.0, report.GetProperty("classAccuracy").GetDouble());
            Assert.Equal(1.0, report.GetProperty("partAccuracy").GetDouble());
            Assert.Equal(0, report.GetProperty("boxImages").GetInt32());
        }
        finally
        {
            Directory.Delete(dataset, recursive: true);
        }
    }

    /// <summary>
    /// The average-precision floor lowers only the last stage's threshold for extra boxes below the operating point:
    /// the operating point's figures (boxes, precision, recall, classes, verdicts) must equal those of a run without it.
    /// </summary>
    [Trait(TestCategories.Name, TestCategories.Slow)]
    [PackageFact("neu-steel", "datasets/neu-det")]
    public void Eval_ApFloor_LeavesOperatingPointFiguresUnchanged()
    {
        string neu = RepoPaths.SharedPath("datasets/neu-det");
        string split = Path.GetTempFileName();
        try
        {
            File.WriteAllLines(split, File.ReadLines(Path.Combine(neu, "val.txt"))
                .Where(n => File.Exists(Path.Combine(neu, "images", n)))
                .GroupBy(n => n[..n.LastIndexOf('_')])
                .SelectMany(g => g.Take(3)));
            string model = Path.Combine(RepoPaths.Root, "models", "neu-steel");
            JsonElement Run(string floor)
            {
                var (code, stdout, stderr) = Cli.Run("eval", "--model", model, "--dataset", neu, "--split", split, "--json", "--ap-floor", floor);
                Assert.True(code == 0, stderr);
                return JsonDocument.Parse(stdout).RootElement.GetProperty("report");
            }

            var withFloor = Run("0.05");
            var without = Run("0.999"); // above the package's threshold: no boxes added

            foreach (string field in new[] { "predictedBoxes", "truePositiveBoxes", "groundTruthBoxes", "truePositiveNg", "trueNegativeOk" })
            {
                Assert.Equal(without.GetProperty(field).GetInt32(), withFloor.GetProperty(field).GetInt32());
            }
            Assert.Equal(without.GetProperty("classAccuracy").GetDouble(), withFloor.GetProperty("classAccuracy").GetDouble());
            Assert.Equal(without.GetProperty("confusion").GetRawText(), withFloor.GetProperty("confusion").GetRawText());
            Assert.Equal(JsonValueKind.Null, without.GetProperty("scoreFloor").ValueKind);
            Assert.Equal(0.05, withFloor.GetProperty("scoreFloor").GetDouble(), 6);
            // The longer curve can only add recall at lower precision: its AP is at least the operating point's.
            Assert.True(withFloor.GetProperty("averagePrecision").GetDouble() >= without.GetProperty("averagePrecision").GetDouble());
        }
        finally
        {
            File.Delete(split);
        }
    }

    [Trait(TestCategories.Name, TestCategories.Slow)]
    [PackageFact("neu-steel", "datasets/neu-det")]
    public void Eval_NeuDetSubsetText_PrintsEveryFigure()
    {
        string neu = RepoPaths.SharedPath("datasets/neu-det");
        string split = Path.GetTempFileName();
        try
        {
            // Two images per class from val.txt that are present (the split also lists held-out images).
            var names = File.ReadLines(Path.Combine(neu, "val.txt"))
                .Where(n => File.Exists(Path.Combine(neu, "images", n)))
                .GroupBy(n => n[..n.LastIndexOf('_')])
                .SelectMany(g => g.Take(2))
                .ToList();
            File.WriteAllLines(split, names);

            var (code, stdout, stderr) = Cli.Run("eval", "--model", Path.Combine(RepoPaths.Root, "models", "neu-steel"), "--dataset", neu, "--split", split);

            Assert.True(code == 0, stderr);
            Assert.Contains($"on {names.Count} images (voc)", stdout, StringComparison.Ordinal);
            Assert.Contains("detection @ IoU 0.5: precision", stdout, StringComparison.Ordinal);
            Assert.Contains("confusion matrix", stdout, StringComparison.Ordinal);
            Assert.Contains("scratches", stdout, StringComparison.Ordinal);
            Assert.Contains("part OK/NG accuracy", stdout, StringComparison.Ordinal);
            Assert.Contains("average precision @ IoU 0.5 (every box down to score 0.05)", stdout, StringComparison.Ordinal);
            Assert.Contains("detection by image class", stdout, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(split);
        }
    }
}
