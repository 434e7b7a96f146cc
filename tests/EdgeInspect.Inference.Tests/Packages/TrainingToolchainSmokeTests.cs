using System.Diagnostics;
using EdgeInspect.Core.Packages;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Inference.Tests.Packages;

/// <summary>A fact that needs Debian's /usr/bin/python3 with python3-torch, python3-onnx and python3-opencv.</summary>
public sealed class TrainingToolchainFactAttribute : FactAttribute
{
    public const string Python = TrainingPython.Path;
    public TrainingToolchainFactAttribute()
    {
        if (TrainingPython.MissingReason is { } reason) Skip = reason;
    }
}

[Trait(TestCategories.Name, TestCategories.Slow)]
public sealed class TrainingToolchainSmokeTests : IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("edgeinspect-train-smoke-").FullName;

    public void Dispose() => Directory.Delete(_out, recursive: true);

    private static (int Code, string Stdout, string Stderr) TrainPy(params string[] args) => TrainPy(120, args);

    private static (int Code, string Stdout, string Stderr) TrainPy(int timeoutSeconds, params string[] args) =>
        Python("train.py", timeoutSeconds, args);

    private static (int Code, string Stdout, string Stderr) Python(string script, int timeoutSeconds, params string[] args)
    {
        var psi = new ProcessStartInfo(TrainingToolchainFactAttribute.Python,
            [Path.Combine(RepoPaths.Root, "tools", "train", script), .. args])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(timeoutSeconds * 1000), $"{script} {string.Join(' ', args)} did not finish in {timeoutSeconds} s");
        return (p.ExitCode, stdout.Result, stderr);
    }

    [TrainingToolchainFact]
    public void TrainPy_SmokeRun_WritesPackageThatPassesValidation()
    {
        // The run's shared smoke package (trained once by tools/test.sh, or here on first use).
        string package = SmokePackage.Folder;
        Assert.True(File.Exists(SmokePackage.TrainOutputPath), $"train.py's output is missing beside {package}");
        string stdout = File.ReadAllText(SmokePackage.TrainOutputPath);

        var manifest = ModelPackageValidator.ReadAndValidate(package);

        Assert.Equal("smoke", manifest.Name);
        Assert.Equal(["pnet", "rnet", "onet"], manifest.Detector!.Stages.Select(s => s.Name));
        Assert.Equal(["dent", "scratch"], manifest.Classifier!.Classes);
        Assert.Contains("wrote", stdout, StringComparison.Ordinal);
        // The smoke run reads its exported detector files back into the training networks (train.py --start-from
        // and stage_recall.py --package depend on it) and fails when any parameter differs.
        Assert.Contains("read back equal", stdout, StringComparison.Ordinal);
        Assert.True(manifest.Provenance!.ContainsKey("seed"));
    }

    /// <summary>
    /// --start-from PACKAGE: a stage given 0 epochs is the package's network as it is, a stage with epochs starts from
    /// the package's weights; the O-Net IoU bands are recorded in the command. A run that asks for 0 epochs without a
    /// package is refused, naming the option.
    /// </summary>
    [TrainingToolchainFact]
    public void TrainPy_StartFromPackage_KeepsZeroEpochStagesAndTrainsTheOthers()
    {
        string first = SmokePackage.Folder, second = Path.Combine(_out, "second");
        var (code, stdout, stderr) = TrainPy("--smoke", "--out", second, "--name", "smoke", "--start-from", first,
            "--epochs", "0", "0", "1", "1", "--onet-bands", "0.5", "0.4", "0.4");
        Assert.True(code == 0, $"--start-from run exited {code}: {stderr}");

        var before = ModelPackageValidator.ReadAndValidate(first).Detector!.Stages;
        var after = ModelPackageValidator.ReadAndValidate(second).Detector!.Stages;
        Assert.Equal(before[0].Sha256, after[0].Sha256); // P-Net taken as it is
        Assert.Equal(before[1].Sha256, after[1].Sha256); // R-Net taken as it is
        Assert.NotEqual(before[2].Sha256, after[2].Sha256); // O-Net trained on from the package's weights
        Assert.Contains("onet: starting weights from", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("R-Net crops", stdout, StringComparison.Ordinal); // a stage taken as it is mines no crops

        (code, _, stderr) = TrainPy("--smoke", "--out", Path.Combine(_out, "refused"), "--epochs", "0", "1", "1", "1");
        Assert.Equal(2, code);
        Assert.Contains("--start-from", stderr, StringComparison.Ordinal);
    }

    /// <summary>
    /// The pretrained path on a handful of images: O-Net and the classifier on the ResNet-18 trunk (64 x 64 crops with
    /// a 0.25 margin, in the manifest's input specs), a whole-frame classifier with an "ok" class learned from good
    /// parts (never an NG class), an image without boxes labelled at image level. The device then runs the package:
    /// `model check` opens it (network input shapes against the manifest) and reproduces its golden images, and
    /// `eval` reads the very dataset train.py read and counts its good parts and its box-less defective part.
    /// </summary>
    [PretrainedTrunkFact]
    public void TrainPy_PretrainedSmokeRun_WritesPackageTheDeviceRunsWithOkClassAndCropMargin()
    {
        string package = Path.Combine(_out, "pretrained"), data = Path.Combine(_out, "data"), cache = Path.Combine(_out, "cache");
        var (code, stdout, stderr) = TrainPy(600, "--smoke", "--pretrained", "--whole-image", "--out", package,
            "--name", "smoke-pretrained", "--smoke-data", data, "--cache", cache);
        Assert.True(code == 0, $"train.py --smoke --pretrained exited {code}: {stderr}\n{stdout}");
        Assert.Contains("ResNet-18 trunk: 22 convolutions", stdout, StringComparison.Ordinal);
        Assert.Contains("1 defective train images without boxes", stdout, StringComparison.Ordinal);
        Assert.Contains("model selection on val images: 3/3", stdout, StringComparison.Ordinal); // progress of a long step

        var manifest = ModelPackageValidator.ReadAndValidate(package);
        var onet = manifest.Detector!.Stages[2];
        Assert.Equal((64, 64, 0.25f), (onet.Input.Width, onet.Input.Height, onet.Input.CropMargin));
        Assert.Equal((64, 0.25f), (manifest.Classifier!.Input.Width, manifest.Classifier.EffectiveCropMargin));
        Assert.Equal(["dent", "ok", "scratch"], manifest.Classifier.Classes);
        Assert.Equal(["dent", "scratch"], manifest.Decision.NgClasses);
        Assert.True(manifest.Classifier.WholeImage);
        Assert.NotNull(manifest.Provenance!["pretrained"]);

        // The card drafted from the run: its trunk, its split, the val part figures at the chosen point, what to run next.
        var card = File.ReadAllLines(Path.Combine(package, "MODEL_CARD.md"));
        var val = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(package, "manifest.json")))!["metrics"]!["python_val"]!;
        var (escapes, ng) = ((int)val["partEscapes"]!["count"]!, (int)val["partEscapes"]!["of"]!);
        var (rejects, ok) = ((int)val["partFalseRejects"]!["count"]!, (int)val["partFalseRejects"]!["of"]!);
        Assert.Equal(3, ng + ok); // the three val parts
        Assert.Single(card, l => l.StartsWith("| escape rate", StringComparison.Ordinal) && (ng == 0 ? l.Contains("n/a") : l.Contains($"({escapes} of {ng},")));
        Assert.Single(card, l => l.StartsWith("| false-reject rate", StringComparison.Ordinal) && (ok == 0 ? l.Contains("n/a") : l.Contains($"({rejects} of {ok},")));
        Assert.Contains(card, l => l.Contains("Microsoft.ML.DnnImageFeaturizer.ResNet18", StringComparison.Ordinal));
        Assert.Contains(card, l => l.StartsWith($"edgeinspect model tune --model {package} ", StringComparison.Ordinal));

        var check = Cli.Run("model", "check", "--model", package);
        Assert.True(check.ExitCode == 0, $"model check exited {check.ExitCode}: {check.Stdout} {check.Stderr}");

        var eval = Cli.Run("eval", "--model", package, "--dataset", data, "--split", Path.Combine(data, "train.txt"), "--json");
        Assert.True(eval.ExitCode == 0, $"eval exited {eval.ExitCode}: {eval.Stderr}");
        var parts = System.Text.Json.Nodes.JsonNode.Parse(eval.Stdout)!["report"]!["parts"]!;
        Assert.Equal(2, (int)parts["falseReject"]!["of"]!); // the two good train parts
        Assert.Equal(7, (int)parts["escape"]!["of"]!);      // six boxed defective parts and the one labelled without a box

        // Model selection again from the run's cache (P-Net and R-Net from the package, O-Net and the classifier on the
        // trunk from the cache): the decision's region threshold is at or above O-Net's, and the device still passes
        // the golden images made for it.
        (code, stdout, stderr) = TrainPy(600, "--golden-only", "--reselect", "--out", package, "--cache", cache,
            "--dataset", data, "--val-split", Path.Combine(data, "val.txt"));
        Assert.True(code == 0, $"train.py --golden-only --reselect exited {code}: {stderr}\n{stdout}");
        Assert.Contains("(regions from ", stdout, StringComparison.Ordinal);
        var reselected = ModelPackageValidator.ReadAndValidate(package);
        Assert.True(reselected.Decision.MinRegionScore >= reselected.Detector!.Stages[2].Threshold,
            $"decision.minRegionScore {reselected.Decision.MinRegionScore} under O-Net's threshold {reselected.Detector.Stages[2].Threshold}");
        check = Cli.Run("model", "check", "--model", package);
        Assert.True(check.ExitCode == 0, $"model check after --reselect exited {check.ExitCode}: {check.Stdout} {check.Stderr}");
    }

    /// <summary>
    /// split.py, the recipe's first step: every part in exactly one of train / val / test, each class (good parts too)
    /// in every split in proportion, and the files read back by the device's reader to the same parts.
    /// </summary>
    [TrainingToolchainFact]
    public void SplitPy_FolderPerClassData_StratifiedDisjointSplitsTheDeviceReads()
    {
        string data = Path.Combine(_out, "folders");
        var counts = new Dictionary<string, int> { ["good"] = 40, ["crack"] = 20, ["stain"] = 8 };
        foreach (var (cls, n) in counts)
        {
            Directory.CreateDirectory(Path.Combine(data, cls));
            for (var i = 0; i < n; i++)
            {
                using var image = new OpenCvSharp.Mat(16, 16, OpenCvSharp.MatType.CV_8UC3, OpenCvSharp.Scalar.All(i));
                OpenCvSharp.Cv2.ImWrite(Path.Combine(data, cls, $"{cls}_{i:D3}.png"), image);
            }
        }

        var (code, stdout, stderr) = Python("split.py", 60, "--dataset", data, "--val", "0.15", "--test", "0.25");

        Assert.True(code == 0, $"split.py exited {code}: {stderr}");
        var splits = new[] { "train", "val", "test" }.ToDictionary(s => s, s => File.ReadAllLines(Path.Combine(data, s + ".txt")));
        Assert.Equal(counts.Values.Sum(), splits.Values.Sum(l => l.Length));
        Assert.Equal(counts.Values.Sum(), splits.Values.SelectMany(l => l).Distinct().Count());
        foreach (var (name, fraction) in new[] { ("val", 0.15), ("test", 0.25) })
        {
            var parts = EdgeInspect.Core.Evaluation.LabelledDataset.Open(data, Path.Combine(data, name + ".txt")).Images;
            foreach (var (cls, n) in counts)
            {
                var label = cls == "good" ? "ok" : cls;
                Assert.Equal((int)Math.Round(n * fraction, MidpointRounding.ToEven), parts.Count(p => (p.IsNg ? p.PartClass : "ok") == label));
            }
        }
        Assert.Contains("val.txt: 10 parts", stdout, StringComparison.Ordinal);
    }

    /// <summary>A run without --val-split would choose its operating point on the training images: refused, saying why.</summary>
    [TrainingToolchainFact]
    public void TrainPy_WithoutValSplit_RefusedNamingTheOption()
    {
        string data = Path.Combine(_out, "data");
        Directory.CreateDirectory(Path.Combine(data, "ok"));

        var (code, _, stderr) = TrainPy("--dataset", data, "--out", Path.Combine(_out, "refused"));

        Assert.Equal(2, code);
        Assert.Contains("--val-split is missing", stderr, StringComparison.Ordinal);
        Assert.Contains("training images", stderr, StringComparison.Ordinal);

        // Model selection redone without a val split, or on a folder that holds no package: refused before any work.
        (code, _, stderr) = TrainPy("--golden-only", "--reselect", "--dataset", data, "--out", Path.Combine(_out, "refused"));
        Assert.Equal(2, code);
        Assert.Contains("manifest.json does not exist", stderr, StringComparison.Ordinal);
        string package = Path.Combine(_out, "package");
        Directory.CreateDirectory(package);
        File.WriteAllText(Path.Combine(package, "manifest.json"), "{}");
        (code, _, stderr) = TrainPy("--golden-only", "--reselect", "--dataset", data, "--out", package);
        Assert.Equal(2, code);
        Assert.Contains("--reselect needs --val-split", stderr, StringComparison.Ordinal);
    }
}
