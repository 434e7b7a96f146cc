using System.Diagnostics;
using EdgeInspect.Core.Inference;
using EdgeInspect.Inference.Onnx;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Inference.Tests.Packages;

/// <summary>A fact that needs the restored ResNet-18 package and the training toolchain.</summary>
public sealed class PretrainedTrunkFactAttribute : FactAttribute
{
    public PretrainedTrunkFactAttribute()
    {
        if (PretrainedTrunk.MissingReason is { } reason) Skip = reason;
    }
}

/// <summary>
/// tools/train/eitrain/resnet18.py rebuilds the package's ResNet-18 in PyTorch from the ONNX file's initializers
/// (its own padding, block layout and batch norm). Checked here against another runtime: ONNX Runtime, through the
/// device's own runner, on the original graph, with the same probe tensors.
/// </summary>
[Trait(TestCategories.Name, TestCategories.Slow)]
public sealed class PretrainedTrunkConversionTests : IDisposable
{
    // Float32 sums of 4.6 k products per output in a different order (ONNX Runtime's kernels against torch's):
    // differences of 1e-5 relative are expected; a wrong pad, stride, block or batch-norm slot moves features by
    // tenths.
    private const float AbsoluteTolerance = 1e-3f, RelativeTolerance = 1e-3f;
    private const int Probes = 3, Side = 224, Features = 512;

    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-resnet18-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [PretrainedTrunkFact]
    public void ConvertedTrunk_OnProbeImages_MatchesOnnxRuntimeOnTheOriginalGraph()
    {
        float[] probes = MakeProbes();
        string probeFile = Path.Combine(_dir, "probes.f32"), featureFile = Path.Combine(_dir, "features.f32");
        WriteFloats(probeFile, probes);

        RunConverter(probeFile, featureFile);
        float[] torch = ReadFloats(featureFile);
        Assert.Equal(Probes * Features, torch.Length);

        using var runner = new OnnxNetworkFactory().Open(PretrainedTrunk.OnnxPath, new InferenceOptions { Providers = ["cpu"], IntraOpThreads = 2, WarmUp = false });
        var input = new TensorBuffer();
        var outputs = new TensorBuffer[runner.Outputs.Count];
        for (int i = 0; i < outputs.Length; i++) outputs[i] = new TensorBuffer();
        for (int n = 0; n < Probes; n++)
        {
            input.SetShape(1, 3, Side, Side);
            probes.AsSpan(n * 3 * Side * Side, 3 * Side * Side).CopyTo(input.Span);
            runner.Run([input], outputs);
            var ort = outputs[0].Span;
            Assert.Equal(Features, ort.Length);
            float largest = 0;
            for (int f = 0; f < Features; f++)
            {
                float expected = ort[f], actual = torch[(n * Features) + f];
                largest = MathF.Max(largest, expected);
                Assert.True(MathF.Abs(expected - actual) <= AbsoluteTolerance + (RelativeTolerance * MathF.Abs(expected)),
                    $"probe {n}, feature {f}: ONNX Runtime {expected}, converted trunk {actual}");
            }
            // Features that are all zero would agree for any weights.
            Assert.True(largest > 0.1f, $"probe {n}: the largest feature is {largest}; the probe does not exercise the trunk");
        }
    }

    /// <summary>
    /// The graph's own input (BGR minus the mean image, about -125 .. 150): a noise field, a diagonal gradient with
    /// a dark bar, a checkerboard with a bright disc, so edges, flat areas and textures all reach the filters.
    /// </summary>
    private static float[] MakeProbes()
    {
        var rng = new Random(20261202);
        var v = new float[Probes * 3 * Side * Side];
        for (int n = 0; n < Probes; n++)
        for (int c = 0; c < 3; c++)
        for (int y = 0; y < Side; y++)
        for (int x = 0; x < Side; x++)
        {
            float pixel = n switch
            {
                0 => rng.Next(256),
                1 => (x + y) * 255f / (2 * Side) * (c + 1) / 3f * ((y / 20 == 5) ? 0.2f : 1f),
                _ => (((x / 16) + (y / 16)) % 2 == 0 ? 40 : 200) + ((((x - 150) * (x - 150)) + ((y - 80) * (y - 80))) < 900 ? 55 : 0),
            };
            v[(((n * 3) + c) * Side * Side) + (y * Side) + x] = pixel - 115f;
        }
        return v;
    }

    private static void RunConverter(string probes, string features)
    {
        var psi = new ProcessStartInfo(TrainingPython.Path,
            [Path.Combine(RepoPaths.Root, "tools", "train", "eitrain", "resnet18.py"), "--probes", probes, "--out", features])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        _ = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(300_000), "the converter did not finish in 300 s");
        Assert.True(p.ExitCode == 0, $"the converter exited {p.ExitCode}: {stderr}");
    }

    private static void WriteFloats(string path, float[] values)
    {
        var bytes = new byte[values.Length * 4];
        Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
        File.WriteAllBytes(path, bytes);
    }

    private static float[] ReadFloats(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var values = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        return values;
    }
}
