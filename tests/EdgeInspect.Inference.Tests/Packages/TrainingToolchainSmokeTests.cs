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

public sealed class TrainingToolchainSmokeTests : IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("edgeinspect-train-smoke-").FullName;

    public void Dispose() => Directory.Delete(_out, recursive: true);

    [TrainingToolchainFact]
    public void TrainPy_SmokeRun_WritesPackageThatPassesValidation()
    {
        var psi = new ProcessStartInfo(TrainingToolchainFactAttribute.Python,
            [Path.Combine(RepoPaths.Root, "tools", "train", "train.py"), "--smoke", "--out", _out, "--name", "smoke"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(120_000), "train.py --smoke did not finish in 120 s");
        Assert.True(p.ExitCode == 0, $"train.py --smoke exited {p.ExitCode}: {stderr}");

        var manifest = ModelPackageValidator.ReadAndValidate(_out);

        Assert.Equal("smoke", manifest.Name);
        Assert.Equal(["pnet", "rnet", "onet"], manifest.Detector!.Stages.Select(s => s.Name));
        Assert.Equal(["dent", "scratch"], manifest.Classifier!.Classes);
        Assert.Contains("wrote", stdout.Result, StringComparison.Ordinal);
        Assert.True(manifest.Provenance!.ContainsKey("seed"));
    }
}
