using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Inference.Tests.Packages;

public sealed class TuneCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-tune-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Tune_WithoutSplit_RefusedWithTheReason()
    {
        string model = Path.Combine(RepoPaths.Root, "models", "virtual-line");

        var (code, _, stderr) = Cli.Run("model", "tune", "--model", model, "--dataset", _dir);

        Assert.Equal(2, code);
        Assert.Contains("--split is required", stderr, StringComparison.Ordinal);
        Assert.Contains("test parts included", stderr, StringComparison.Ordinal);
    }

    /// <summary>
    /// Rendered virtual-line parts (half of them good) tune a copy of the shipped package: the chosen point is the
    /// table's lowest escape rate under the false-reject ceiling, --write puts it and its figures into the manifest,
    /// and a signed package is only ever tuned into an unsigned copy.
    /// </summary>
    [Trait(TestCategories.Name, TestCategories.Slow)]
    [PackageFact("virtual-line")]
    public void Tune_RenderedParts_ChoosesLowestEscapeUnderCeilingAndWritesItIntoTheManifest()
    {
        string data = Path.Combine(_dir, "data");
        var sim = Cli.Run("simulate", "--out", data, "--count", "60", "--seed", "3");
        Assert.True(sim.ExitCode == 0, sim.Stderr);
        using var pkg = new PackageCopy("virtual-line");
        string split = Path.Combine(data, "val.txt");

        var (code, stdout, stderr) = Cli.Run("model", "tune", "--model", pkg.Dir, "--dataset", data, "--split", split,
            "--max-false-reject", "0.2", "--grid", "0.3,0.5,0.7,0.9", "--write", "--json");

        Assert.True(code == 0, stderr);
        var doc = JsonDocument.Parse(stdout).RootElement;
        var rows = doc.GetProperty("table").EnumerateArray().Select(r => (
            Threshold: r.GetProperty("minRegionScore").GetSingle(),
            Escape: r.GetProperty("outcomes").GetProperty("escape").GetProperty("rate").GetDouble(),
            FalseReject: r.GetProperty("outcomes").GetProperty("falseReject").GetProperty("rate").GetDouble())).ToList();
        float chosen = doc.GetProperty("chosen").GetProperty("minRegionScore").GetSingle();
        var meeting = rows.Where(r => r.FalseReject <= 0.2).ToList();
        Assert.Contains(meeting, r => r.Threshold == chosen);
        Assert.Equal(meeting.Min(r => r.Escape), rows.Single(r => r.Threshold == chosen).Escape);
        var manifest = JsonNode.Parse(File.ReadAllText(pkg.ManifestPath))!;
        Assert.Equal(chosen, manifest["decision"]!["minRegionScore"]!.GetValue<float>());
        var point = manifest["metrics"]!["operatingPoint"]!;
        Assert.Equal(chosen, point["minRegionScore"]!.GetValue<float>());
        Assert.Equal(Path.GetFullPath(split), point["split"]!.GetValue<string>());
        Assert.Equal(rows.Single(r => r.Threshold == chosen).Escape, point["escape"]!["rate"]!.GetValue<double>());
        Assert.Equal(0, Cli.Run("model", "check", "--model", pkg.Dir).ExitCode);

        // Signed: manifest.sig covers the manifest's bytes, so the package itself is never rewritten.
        File.WriteAllText(Path.Combine(pkg.Dir, "manifest.sig"), """{ "keyId": "k", "signature": "AA==" }""");
        var inPlace = Cli.Run("model", "tune", "--model", pkg.Dir, "--dataset", data, "--split", split, "--grid", "0.5", "--write");
        Assert.Equal(2, inPlace.ExitCode);
        Assert.Contains("is signed", inPlace.Stderr, StringComparison.Ordinal);
        string copy = Path.Combine(_dir, "tuned");
        var copied = Cli.Run("model", "tune", "--model", pkg.Dir, "--dataset", data, "--split", split, "--grid", "0.5", "--max-false-reject", "1",
            "--write", "--out", copy);
        Assert.True(copied.ExitCode == 0, copied.Stderr);
        Assert.False(File.Exists(Path.Combine(copy, "manifest.sig")));
        Assert.Contains("the copy is unsigned", copied.Stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(copy, "onet.onnx")));
    }
}
