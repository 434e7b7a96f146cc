using System.Diagnostics;

namespace EdgeInspect.TestSupport;

/// <summary>
/// The training smoke package (tools/train/train.py --smoke: a real ONNX cascade and classifier, tiny), trained once
/// per test run and shared: tools/test.sh trains it before the first test project and passes it on in
/// <see cref="OverrideVariable"/>; a test process without it trains its own once. Needs <see cref="TrainingPython"/>.
/// </summary>
public static class SmokePackage
{
    private static readonly Lazy<string> Trained = new(Train, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>A folder written by <c>train.py --smoke</c>; train.py's output is <see cref="TrainOutputPath"/>.</summary>
    public const string OverrideVariable = "EDGEINSPECT_SMOKE_PACKAGE";

    /// <summary>The package folder (trains it on first use unless <see cref="OverrideVariable"/> names one).</summary>
    public static string Folder => Trained.Value;

    /// <summary>train.py's standard output for <see cref="Folder"/>, kept beside it ("train.stdout").</summary>
    public static string TrainOutputPath => Path.Combine(Path.GetDirectoryName(Folder)!, "train.stdout");

    private static string Train()
    {
        if (Environment.GetEnvironmentVariable(OverrideVariable) is { Length: > 0 } given && File.Exists(Path.Combine(given, "manifest.json")))
            return given;
        string root = Directory.CreateTempSubdirectory("edgeinspect-smoke-").FullName;
        string outDir = Path.Combine(root, "smoke");
        var psi = new ProcessStartInfo(TrainingPython.Path,
            [Path.Combine(RepoPaths.Root, "tools", "train", "train.py"), "--smoke", "--out", outDir, "--name", "smoke"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEnd();
        if (!p.WaitForExit(900_000)) throw new TimeoutException("train.py --smoke did not finish in 900 s");
        if (p.ExitCode != 0) throw new InvalidOperationException($"train.py --smoke exited {p.ExitCode}: {stderr}");
        File.WriteAllText(Path.Combine(root, "train.stdout"), stdout.Result);
        File.Delete(Path.Combine(outDir, "train.log")); // not part of a package: it would be packed and pushed with it
        return outDir;
    }
}
