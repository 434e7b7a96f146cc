using System.Text.Json.Nodes;
using EdgeInspect.Core.Packages;
using Xunit;

namespace EdgeInspect.Core.Tests.Packages;

public sealed class ModelPackageValidatorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-package-").FullName;

    public ModelPackageValidatorTests()
    {
        // Network files are opaque bytes to the validator; it checks presence and hashes.
        foreach (string f in new[] { "pnet.onnx", "rnet.onnx", "classifier.onnx", "golden.jpg" })
        {
            File.WriteAllText(Path.Combine(_dir, f), "bytes of " + f);
        }
        static JsonObject Input(int size) => new()
        {
            ["name"] = "input", ["width"] = size, ["height"] = size, ["layout"] = "NWHC", ["channels"] = "RGB",
            ["mean"] = new JsonArray(127.5, 127.5, 127.5), ["scale"] = 0.0078125,
        };
        JsonObject Stage(string name, int size) => new()
        {
            ["name"] = name, ["file"] = name + ".onnx", ["sha256"] = Sha(name + ".onnx"), ["input"] = Input(size),
            ["outputs"] = new JsonObject { ["boxes"] = "boxes", ["scores"] = "scores" },
            ["threshold"] = 0.6, ["nms"] = new JsonObject { ["iou"] = 0.5, ["mode"] = "Union" },
            ["regressionWidth"] = "inclusive",
        };
        Manifest = new JsonObject
        {
            ["schema"] = 1, ["name"] = "test", ["version"] = 3,
            ["detector"] = new JsonObject
            {
                ["kind"] = "cascade",
                ["pyramid"] = new JsonObject { ["minSize"] = 16, ["scaleFactor"] = 0.709 },
                ["stages"] = new JsonArray(Stage("pnet", 0), Stage("rnet", 24)),
            },
            ["classifier"] = new JsonObject
            {
                ["file"] = "classifier.onnx", ["sha256"] = Sha("classifier.onnx"), ["input"] = Input(48),
                ["output"] = "probs", ["classes"] = new JsonArray("dent", "scratch"),
            },
            ["decision"] = new JsonObject { ["ngClasses"] = new JsonArray("dent", "scratch"), ["minRegionScore"] = 0.7 },
            ["golden"] = new JsonArray(new JsonObject
            {
                ["file"] = "golden.jpg", ["sha256"] = Sha("golden.jpg"), ["expectVerdict"] = "ng", ["expectClass"] = "dent",
            }),
        };
    }

    private JsonObject Manifest { get; }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Sha(string file) => ModelPackageValidator.Sha256Of(Path.Combine(_dir, file));

    private ModelPackageException Refused()
    {
        File.WriteAllText(Path.Combine(_dir, "manifest.json"), Manifest.ToJsonString());
        return Assert.Throws<ModelPackageException>(() => ModelPackageValidator.ReadAndValidate(_dir));
    }

    [Fact]
    public void ReadAndValidate_GoodPackage_ReturnsManifest()
    {
        File.WriteAllText(Path.Combine(_dir, "manifest.json"), Manifest.ToJsonString());

        var m = ModelPackageValidator.ReadAndValidate(_dir);

        Assert.Equal("test", m.Name);
        Assert.Equal(24, m.Detector!.Stages[1].Input.Width);
        Assert.Equal(["dent", "scratch"], m.Classifier!.Classes);
    }

    [Fact]
    public void ReadAndValidate_WholeImageWithZeroWeight_RefusedNamingField()
    {
        Manifest["classifier"]!["wholeImage"] = true;
        Manifest["classifier"]!["wholeImageWeight"] = 0;

        var e = Refused();

        Assert.Contains("classifier.wholeImageWeight", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadAndValidate_StageCropMargin_Read()
    {
        Manifest["detector"]!["stages"]![1]!["input"]!["cropMargin"] = 0.25;
        Manifest["classifier"]!["input"]!["cropMargin"] = 0.3;
        File.WriteAllText(Path.Combine(_dir, "manifest.json"), Manifest.ToJsonString());

        var m = ModelPackageValidator.ReadAndValidate(_dir);

        Assert.Equal(0.25f, m.Detector!.Stages[1].Input.CropMargin);
        Assert.Equal(0.3f, m.Classifier!.EffectiveCropMargin);
    }

    [Fact]
    public void ReadAndValidate_CropMarginOnFirstStage_RefusedSayingItSeesNoCrops()
    {
        Manifest["detector"]!["stages"]![0]!["input"]!["cropMargin"] = 0.25;

        var e = Refused();

        Assert.Contains("detector.stages[0].input.cropMargin", e.Message, StringComparison.Ordinal);
        Assert.Contains("no crops", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-0.1)]
    [InlineData(3.0)]
    public void ReadAndValidate_CropMarginOutOfRange_RefusedNamingField(double margin)
    {
        Manifest["detector"]!["stages"]![1]!["input"]!["cropMargin"] = margin;

        var e = Refused();

        Assert.Contains("detector.stages[1].input.cropMargin", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadAndValidate_ClassifierMarginsDisagree_RefusedNamingBoth()
    {
        Manifest["classifier"]!["cropMargin"] = 0.1;
        Manifest["classifier"]!["input"]!["cropMargin"] = 0.25;

        var e = Refused();

        Assert.Contains("classifier.cropMargin", e.Message, StringComparison.Ordinal);
        Assert.Contains("classifier.input.cropMargin", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(-2f)]
    [InlineData(100f)]
    public void ReadAndValidate_PyramidAspectOutOfRange_RefusedNamingField(float aspect)
    {
        Manifest["detector"]!["pyramid"]!["aspects"] = new JsonArray(1f, aspect);

        var e = Refused();

        Assert.Contains("detector.pyramid.aspects", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadAndValidate_PyramidAspects_Read()
    {
        Manifest["detector"]!["pyramid"]!["aspects"] = new JsonArray(0.25f, 1f, 4f);
        File.WriteAllText(Path.Combine(_dir, "manifest.json"), Manifest.ToJsonString());

        var m = ModelPackageValidator.ReadAndValidate(_dir);

        Assert.Equal([0.25f, 1f, 4f], m.Detector!.Pyramid.Aspects!);
    }

    [Fact]
    public void ReadAndValidate_FrameWindows_Read()
    {
        Manifest["detector"]!["frameWindows"] = new JsonArray(new JsonArray(0, 0, 1, 1), new JsonArray(0.25, 0, 0.75, 0.3333));
        File.WriteAllText(Path.Combine(_dir, "manifest.json"), Manifest.ToJsonString());

        var m = ModelPackageValidator.ReadAndValidate(_dir);

        Assert.Equal([[0f, 0f, 1f, 1f], [0.25f, 0f, 0.75f, 0.3333f]], m.Detector!.FrameWindows!);
    }

    [Theory]
    [InlineData("[[0, 0, 1]]", "detector.frameWindows[0]")]             // three corners
    [InlineData("[[0, 0, 1, 1], [0.5, 0, 0.5, 1]]", "detector.frameWindows[1]")] // no width
    [InlineData("[[0.6, 0, 0.4, 1]]", "detector.frameWindows[0]")]      // x2 left of x1
    [InlineData("[[-0.1, 0, 1, 1]]", "detector.frameWindows[0]")]       // beyond the frame
    [InlineData("[[0, 0, 1, 1.5]]", "detector.frameWindows[0]")]
    public void ReadAndValidate_FrameWindowNotInsideTheFrame_RefusedNamingIt(string windows, string field)
    {
        Manifest["detector"]!["frameWindows"] = JsonNode.Parse(windows);

        var e = Refused();

        Assert.Contains(field, e.Message, StringComparison.Ordinal);
        Assert.Contains("fractions of the frame", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadAndValidate_TooManyFrameWindows_RefusedSayingTheLimit()
    {
        Manifest["detector"]!["frameWindows"] = new JsonArray([.. Enumerable.Range(0, 257).Select(_ => (JsonNode)new JsonArray(0, 0, 1, 1))]);

        var e = Refused();

        Assert.Contains("257 windows, at most 256", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadAndValidate_FrameWindowsWithoutARefinementStage_Refused()
    {
        Manifest["detector"]!["stages"]!.AsArray().RemoveAt(1);
        Manifest["detector"]!["frameWindows"] = new JsonArray(new JsonArray(0, 0, 1, 1));

        var e = Refused();

        Assert.Contains("detector.frameWindows", e.Message, StringComparison.Ordinal);
        Assert.Contains("scored by the last refinement stage, and this cascade has none", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadAndValidate_WrongHash_RefusedNamingFieldAndFile()
    {
        File.AppendAllText(Path.Combine(_dir, "rnet.onnx"), "tampered");

        var e = Refused();

        Assert.Contains("detector.stages[1].sha256", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("rnet.onnx", e.FilePath, StringComparison.Ordinal);
        Assert.Contains("has SHA-256", e.Message, StringComparison.Ordinal);
        Assert.Equal(PackageProblem.HashMismatch, e.Kind);
    }

    [Fact]
    public void ReadAndValidate_MissingFile_RefusedNamingFile()
    {
        File.Delete(Path.Combine(_dir, "classifier.onnx"));

        var e = Refused();

        Assert.EndsWith("classifier.onnx", e.FilePath, StringComparison.Ordinal);
        Assert.Contains("not found in the package (classifier.file of manifest.json names 'classifier.onnx')", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadAndValidate_FieldOfWrongType_RefusedNamingJsonPath()
    {
        Manifest["detector"]!["stages"]![0]!["threshold"] = "high";

        var e = Refused();

        Assert.Contains("$.detector.stages[0].threshold", e.Message, StringComparison.Ordinal);
        Assert.EndsWith("manifest.json", e.FilePath, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadAndValidate_FileOutsidePackage_Refused()
    {
        Manifest["classifier"]!["file"] = "../classifier.onnx";

        var e = Refused();

        Assert.Contains("classifier.file: '../classifier.onnx' is outside the package", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadAndValidate_FixedSizeStageWithoutSize_RefusedNamingInputSpec()
    {
        Manifest["detector"]!["stages"]![1]!["input"]!["width"] = 0;

        var e = Refused();

        Assert.Contains("detector.stages[1].input.width", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadAndValidate_MeanOfWrongLength_RefusedNamingMean()
    {
        Manifest["classifier"]!["input"]!["mean"] = new JsonArray(1, 2);

        var e = Refused();

        Assert.Contains("classifier.input.mean: needs 3 values", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadAndValidate_NgClassNotInClassifier_Refused()
    {
        Manifest["decision"]!["ngClasses"] = new JsonArray("dent", "crack");

        var e = Refused();

        Assert.Contains("decision.ngClasses: 'crack'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadManifest_NoManifest_RefusedNamingPath()
    {
        var e = Assert.Throws<ModelPackageException>(() => ModelPackageValidator.ReadManifest(_dir));

        Assert.Contains("manifest.json: manifest not found", e.Message, StringComparison.Ordinal);
    }
}
