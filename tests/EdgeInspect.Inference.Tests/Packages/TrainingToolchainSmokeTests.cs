using System.Diagnostics;
using EdgeInspect.Core.Packages;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Inference.Tests.Packages;

/// <summary>A fact that needs Debian's /usr/bin/python3 with python3-torch, python3-onnx and python3-opencv.</summary>
public sealed class TrainingToolchainFactAttribute : FactAttribute
{
    public const string Python = "/usr/bin/python3";
    private static readonly Lazy<string?> Missing = new(Probe);

    public TrainingToolchainFactAttribute()
    {
        if (Missing.Value is { } reason) Skip = reason;
    }

    private static string? Probe()
    {
        if (!File.Exists(Python)) return $"needs {Python} (Debian python3 with python3-torch, python3-onnx, python3-opencv)";
        try
        {
            using var p = Process.Start(new ProcessStartInfo(Python, ["-c", "import torch, onnx, cv2, numpy"])
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            })!;
            p.WaitForExit(60_000);
            return p.ExitCode == 0 ? null : $"{Python} lacks torch/onnx/cv2 (apt-get install python3-torch python3-onnx python3-opencv)";
        }
        catch (Exception e)
        {
            return $"{Python} did not run: {e.Message}";
        }
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
