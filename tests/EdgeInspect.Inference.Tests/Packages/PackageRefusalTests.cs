using System.Text.Json.Nodes;
using EdgeInspect.Core.Inference;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Core.Packages;
using EdgeInspect.Imaging.OpenCv;
using EdgeInspect.Inference.Onnx;
using Xunit;

namespace EdgeInspect.Inference.Tests.Packages;

/// <summary>The committed neu-steel package, damaged one way at a time, must be refused with a message naming the damage.</summary>
public sealed class PackageRefusalTests : IDisposable
{
    private readonly Lazy<PackageCopy> _copy = new(() => new PackageCopy("neu-steel"));

    private PackageCopy _pkg => _copy.Value;

    public void Dispose()
    {
        if (_copy.IsValueCreated) _copy.Value.Dispose();
    }

    private PackageInspector OpenInspector(OpenCvImageOps ops) =>
        PackageInspector.Open(ModelPackage.Open(_pkg.Dir), new OnnxNetworkFactory(), new InferenceOptions { IntraOpThreads = 1, WarmUp = false }, ops);

    [PackageFact("neu-steel")]
    public void Open_CommittedPackage_LoadsAndPassesGoldenImages()
    {
        using var ops = new OpenCvImageOps();
        using var inspector = OpenInspector(ops);
        var package = ModelPackage.Open(_pkg.Dir);

        var failures = GoldenCheck.Run(package, inspector, ops);

        Assert.NotEmpty(package.Manifest.Golden);
        Assert.Empty(failures);
    }

    [PackageFact("neu-steel")]
    public void Open_OnnxInputShapeDiffersFromManifest_RefusedNamingNetworkAndField()
    {
        _pkg.EditManifest(m =>
        {
            m["detector"]!["stages"]![1]!["input"]!["width"] = 32;
            m["detector"]!["stages"]![1]!["input"]!["height"] = 32;
        });
        using var ops = new OpenCvImageOps();

        var e = Assert.Throws<ModelPackageException>(() => OpenInspector(ops));

        Assert.Contains("rnet.onnx", e.Message, StringComparison.Ordinal);
        Assert.Contains("detector.stages[1].input", e.Message, StringComparison.Ordinal);
        Assert.Contains("[?, 24, 24, 3]", e.Message, StringComparison.Ordinal);
    }

    [PackageFact("neu-steel")]
    public void Open_WrongHash_RefusedNamingFile()
    {
        File.AppendAllText(Path.Combine(_pkg.Dir, "onet.onnx"), "x");

        var e = Assert.Throws<ModelPackageException>(() => ModelPackage.Open(_pkg.Dir));

        Assert.Contains("detector.stages[2].sha256", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("onet.onnx", e.FilePath, StringComparison.Ordinal);
        Assert.Contains("has SHA-256", e.Message, StringComparison.Ordinal);
    }

    [PackageFact("neu-steel")]
    public void Open_MissingClassifierFile_RefusedNamingFile()
    {
        File.Delete(Path.Combine(_pkg.Dir, "classifier.onnx"));

        var e = Assert.Throws<ModelPackageException>(() => ModelPackage.Open(_pkg.Dir));

        Assert.EndsWith("classifier.onnx", e.FilePath, StringComparison.Ordinal);
        Assert.Contains("classifier.file", e.Message, StringComparison.Ordinal);
    }

    [PackageFact("neu-steel")]
    public void Open_FieldOfWrongType_RefusedNamingJsonPath()
    {
        _pkg.EditManifest(m => m["classifier"]!["classes"] = "crazing");

        var e = Assert.Throws<ModelPackageException>(() => ModelPackage.Open(_pkg.Dir));

        Assert.Contains("$.classifier.classes", e.Message, StringComparison.Ordinal);
    }

    [PackageFact("neu-steel")]
    public void Eval_DamagedPackage_ExitCode2WithOneLineNamingField()
    {
        _pkg.EditManifest(m => m["decision"]!["minRegionScore"] = JsonValue.Create("high"));
        string dataset = Directory.CreateTempSubdirectory("edgeinspect-ds-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(dataset, "ok"));
            // A valid one-image dataset, so the only thing wrong is the package.
            string golden = Directory.EnumerateFiles(Path.Combine(_pkg.Dir, "golden")).First();
            File.Copy(golden, Path.Combine(dataset, "ok", Path.GetFileName(golden)));

            var (code, stdout, stderr) = Cli.Run("eval", "--model", _pkg.Dir, "--dataset", dataset);

            Assert.Equal(2, code);
            Assert.Empty(stdout);
            var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("$.decision.minRegionScore", line, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dataset, recursive: true);
        }
    }
}
