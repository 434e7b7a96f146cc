using System.Diagnostics;
using System.Text.Json;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Inference.Tests.Cli;

/// <summary>The `edgeinspect detect` / `bench cascade` verbs, run as the real executable.</summary>
public sealed class CliTests
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "edgeinspect.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) p.Kill(true);
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    [SharedDataFact(Fixtures.Mtcnn)]
    public void Detect_CanonicalFolder_PrintsOneJsonObjectPerImageWithBoxesLandmarksAndTimings()
    {
        var (code, stdout, _) = Run("detect", "--model", Fixtures.OnnxDir, Fixtures.Image("ivan.jpg"), Fixtures.Image("no-faces.jpg"));

        Assert.Equal(0, code);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        using var ivan = JsonDocument.Parse(lines[0]);
        Assert.Equal(561, ivan.RootElement.GetProperty("width").GetInt32());
        var dets = ivan.RootElement.GetProperty("detections").EnumerateArray().ToList();
        Assert.Equal(2, dets.Count);
        Assert.Equal(277.83, dets[0].GetProperty("x1").GetDouble(), 1);
        Assert.Equal(5, dets[0].GetProperty("landmarks").GetArrayLength());
        foreach (var stage in new[] { "pnet", "rnet", "onet" }) Assert.True(ivan.RootElement.GetProperty("timings_ms").TryGetProperty(stage, out _));
        using var none = JsonDocument.Parse(lines[1]);
        Assert.Equal(0, none.RootElement.GetProperty("detections").GetArrayLength());
    }

    [SharedDataFact(Fixtures.Mtcnn)]
    public void Detect_MissingImage_OneLineErrorNamingTheFileAndNonZeroExit()
    {
        var missing = Path.Combine(Path.GetTempPath(), "no-such-image.jpg");
        var (code, _, stderr) = Run("detect", "--model", Fixtures.OnnxDir, missing);

        // An image that fails is a run that found problems (1), not bad input (2): the other images still run.
        Assert.Equal(1, code);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(missing, lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [SharedDataFact(Fixtures.Mtcnn)]
    public void Detect_NotAnImage_OneLineErrorNamingTheFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"not-an-image-{Guid.NewGuid():N}.jpg");
        File.WriteAllText(path, "plain text");
        try
        {
            var (code, _, stderr) = Run("detect", "--model", Fixtures.OnnxDir, path);
            Assert.NotEqual(0, code);
            Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains(path, stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [SharedDataFact(Fixtures.Mtcnn)]
    public void Detect_ModelFolderMissingONet_OneLineErrorNamingOnetOnnx()
    {
        var dir = Directory.CreateTempSubdirectory("edgeinspect-model-").FullName;
        try
        {
            File.Copy(Fixtures.Onnx("pnet.onnx"), Path.Combine(dir, "pnet.onnx"));
            File.Copy(Fixtures.Onnx("rnet.onnx"), Path.Combine(dir, "rnet.onnx"));
            var (code, _, stderr) = Run("detect", "--model", dir, Fixtures.Image("ivan.jpg"));
            Assert.NotEqual(0, code);
            Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("onet.onnx", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [SharedDataFact(Fixtures.Mtcnn)]
    public void Detect_MalformedNetworkFile_OneLineErrorNamingIt()
    {
        var dir = Directory.CreateTempSubdirectory("edgeinspect-model-").FullName;
        try
        {
            File.Copy(Fixtures.Onnx("pnet.onnx"), Path.Combine(dir, "pnet.onnx"));
            File.WriteAllText(Path.Combine(dir, "rnet.onnx"), "garbage");
            File.Copy(Fixtures.Onnx("onet.onnx"), Path.Combine(dir, "onet.onnx"));
            var (code, _, stderr) = Run("detect", "--model", dir, Fixtures.Image("ivan.jpg"));
            Assert.NotEqual(0, code);
            Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("rnet.onnx", stderr, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [SharedDataFact(Fixtures.Mtcnn)]
    public void Detect_TensorrtCudaCpuProviders_WarnsOnStderrAndStillDetects()
    {
        var (code, stdout, stderr) = Run("detect", "--model", Fixtures.OnnxDir, "--providers", "tensorrt,cuda,cpu", Fixtures.Image("ivan.jpg"));

        Assert.Equal(0, code);
        Assert.Contains("'tensorrt'", stderr, StringComparison.Ordinal);
        Assert.Contains("'cuda'", stderr, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(stdout.Trim());
        Assert.Equal(2, doc.RootElement.GetProperty("detections").GetArrayLength());
    }

    [SharedDataFact(Fixtures.Mtcnn)]
    public void BenchCascade_TwoRunsJson_PrintsOneJsonObjectWithRatioAndAllocation()
    {
        var (code, stdout, _) = Run("bench", "cascade", "--model", Fixtures.OnnxDir, "--runs", "2", "--warmup", "2", "--json", Fixtures.Image("no-faces.jpg"));

        Assert.Equal(0, code);
        var json = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last();
        using var doc = JsonDocument.Parse(json);
        var row = doc.RootElement.GetProperty("images")[0];
        Assert.Equal("no-faces.jpg", row.GetProperty("image").GetString());
        Assert.True(row.GetProperty("cascade_ms_median").GetDouble() >= row.GetProperty("model_ms_median").GetDouble());
        Assert.True(row.TryGetProperty("allocated_bytes_per_call", out _));
        Assert.Single(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
