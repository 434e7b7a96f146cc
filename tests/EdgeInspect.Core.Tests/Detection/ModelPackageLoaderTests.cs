using EdgeInspect.Core.Packages;
using Xunit;

namespace EdgeInspect.Core.Tests.Detection;

public sealed class ModelPackageLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-pkg-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private void Touch(string name) => File.WriteAllBytes(Path.Combine(_dir, name), [1]);

    [Fact]
    public void Open_OnlyThreeCanonicalNetworks_UsesCanonicalMtcnnSettings()
    {
        Touch("pnet.onnx");
        Touch("rnet.onnx");
        Touch("onet.onnx");

        var package = ModelPackage.Open(_dir);

        Assert.True(package.IsCanonicalFallback);
        var d = package.Manifest.Detector!;
        Assert.Equal(20, d.Pyramid.MinSize);
        Assert.Equal(0.709f, d.Pyramid.ScaleFactor);
        Assert.Equal([0.6f, 0.7f, 0.7f], d.Stages.Select(s => s.Threshold));
        Assert.Equal(NmsMode.Min, d.Stages[2].Nms.Mode);
        Assert.True(d.Stages[2].NmsAfterRegression);
        Assert.Equal("exclusive", d.Stages[0].RegressionWidth);
        Assert.False(d.Stages[2].Square);
        Assert.All(d.Stages, s => Assert.Equal("NWHC", s.Input.Layout));
        Assert.Equal(Path.Combine(_dir, "onet.onnx"), package.PathOf("onet.onnx"));
    }

    [Fact]
    public void Open_CanonicalFolderMissingONet_ThrowsNamingOnetOnnx()
    {
        Touch("pnet.onnx");
        Touch("rnet.onnx");

        var ex = Assert.Throws<ModelPackageException>(() => ModelPackage.Open(_dir));

        Assert.EndsWith("onet.onnx", ex.FilePath, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_EmptyFolder_ThrowsNamingTheFolder()
    {
        var ex = Assert.Throws<ModelPackageException>(() => ModelPackage.Open(_dir));
        Assert.Contains(_dir, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_MissingFolder_ThrowsNamingIt()
    {
        var missing = Path.Combine(_dir, "nope");
        var ex = Assert.Throws<ModelPackageException>(() => ModelPackage.Open(missing));
        Assert.Contains("not found", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_MalformedManifest_ThrowsNamingManifestJson()
    {
        File.WriteAllText(Path.Combine(_dir, "manifest.json"), "{ \"name\": ");

        var ex = Assert.Throws<ModelPackageException>(() => ModelPackage.Open(_dir));

        Assert.EndsWith("manifest.json", ex.FilePath, StringComparison.Ordinal);
        Assert.Contains("not JSON", ex.Message, StringComparison.Ordinal);
        Assert.Equal(PackageProblem.NotJson, ex.Kind);
    }

    [Fact]
    public void Open_ManifestNamingMissingNetwork_ThrowsNamingThatFile()
    {
        File.WriteAllText(Path.Combine(_dir, "manifest.json"),
            """{ "name": "steel", "version": 3, "detector": { "stages": [ { "name": "p", "file": "p.onnx", "sha256": "00" } ] } }""");

        var ex = Assert.Throws<ModelPackageException>(() => ModelPackage.Open(_dir));

        Assert.EndsWith("p.onnx", ex.FilePath, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_ManifestWithCamelCaseFields_ReadsStagesAndNmsMode()
    {
        Touch("p.onnx");
        // Loading validates the whole manifest (ModelPackageValidator), so this one is complete: hash, input name, outputs.
        string sha = ModelPackageValidator.Sha256Of(Path.Combine(_dir, "p.onnx"));
        File.WriteAllText(Path.Combine(_dir, "manifest.json"),
            $$"""
            { "name": "steel", "version": 3,
              "detector": { "pyramid": { "minSize": 40, "scaleFactor": 0.5 },
                "stages": [ { "name": "p", "file": "p.onnx", "sha256": "{{sha}}", "threshold": 0.8, "square": false,
                              "outputs": { "boxes": "b", "scores": "s" },
                              "nms": { "iou": 0.3, "mode": "Min" }, "input": { "name": "x", "layout": "NCHW", "channels": "GRAY", "mean": [0], "scale": 0.00392 } } ] } }
            """);

        var package = ModelPackage.Open(_dir);

        Assert.False(package.IsCanonicalFallback);
        var stage = package.Manifest.Detector!.Stages[0];
        Assert.Equal(40, package.Manifest.Detector.Pyramid.MinSize);
        Assert.Equal(NmsMode.Min, stage.Nms.Mode);
        Assert.False(stage.Square);
        Assert.Equal("NCHW", stage.Input.Layout);
    }
}
