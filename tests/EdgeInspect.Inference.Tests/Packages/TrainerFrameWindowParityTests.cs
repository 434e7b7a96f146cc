using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeInspect.Core.Detection;
using EdgeInspect.Core.Inference;
using EdgeInspect.Core.Packages;
using EdgeInspect.Imaging.OpenCv;
using EdgeInspect.Inference.Onnx;
using EdgeInspect.TestSupport;
using OpenCvSharp;
using Xunit;

namespace EdgeInspect.Inference.Tests.Packages;

/// <summary>
/// detector.frameWindows: the trainer's Python cascade (eitrain.cascade.detect, which mined O-Net's training crops
/// and chose its threshold) and the device's CascadeDetector must score the same windows, in the same order, with
/// the same corners, or O-Net meets crops on the line it never learned. Both run the smoke package's networks (plain
/// nets, which the trainer reads back from their ONNX files) with frame windows added to its manifest, on frames
/// whose sides make the fractions land between pixels, and must give the same final boxes and scores.
/// </summary>
[Trait(TestCategories.Name, TestCategories.Slow)]
public sealed class TrainerFrameWindowParityTests : IDisposable
{
    // Scores: ONNX Runtime against PyTorch on the same weights (float32 kernels in another order). Corners: the last
    // stage's regression of those scores' offsets, times a window of up to 211 pixels.
    private const double ScoreTolerance = 1e-4, CornerTolerance = 0.02;

    // Thirds and other fractions that fall between pixels on every frame below, the whole frame and a thin strip.
    private static readonly float[][] Windows =
    [
        [0f, 0f, 1f, 1f], [0f, 0f, 0.3333f, 1f], [0.3333f, 0f, 0.6667f, 1f], [0.6667f, 0f, 1f, 1f],
        [0f, 0.125f, 1f, 0.375f], [0.1f, 0.55f, 0.7f, 0.95f], [0.45f, 0.05f, 0.55f, 0.9f],
    ];

    private static readonly (int Width, int Height)[] Frames = [(157, 211), (200, 200), (123, 97)];

    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-frame-windows-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>R-Net lets nothing through (threshold 1): every box the last stage gives comes from a frame window.</summary>
    [TrainingToolchainFact]
    public void FrameWindowsAlone_TrainerAndDeviceGiveTheSameBoxes() =>
        AssertSameDetections(rnetThreshold: 1f, expectWindowsOnly: true);

    /// <summary>The whole cascade: R-Net's survivors first, then the windows, through the last stage's NMS.</summary>
    [TrainingToolchainFact]
    public void FrameWindowsAfterSurvivors_TrainerAndDeviceGiveTheSameBoxes() =>
        AssertSameDetections(rnetThreshold: null, expectWindowsOnly: false);

    private void AssertSameDetections(float? rnetThreshold, bool expectWindowsOnly)
    {
        string package = Path.Combine(_dir, "package");
        CopyPackage(SmokePackage.Folder, package);
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(package, "manifest.json")))!;
        var detector = manifest["detector"]!;
        detector["frameWindows"] = JsonSerializer.SerializeToNode(Windows);
        if (rnetThreshold is { } t) detector["stages"]![1]!["threshold"] = t;
        detector["stages"]![2]!["threshold"] = 0.0; // every scored window stays (before NMS), not only confident ones
        File.WriteAllText(Path.Combine(package, "manifest.json"), manifest.ToJsonString());

        var images = Frames.Select((f, k) => WriteFrame(f.Width, f.Height, k)).ToArray();
        var python = RunTrainerCascade(package, images);

        using var ops = new OpenCvImageOps();
        using var cascade = CascadeDetector.Open(ModelPackage.Open(package), new OnnxNetworkFactory(), new InferenceOptions(), ops);
        int total = 0;
        for (int k = 0; k < images.Length; k++)
        {
            using var img = ops.Decode(images[k]);
            var device = cascade.Detect(img).Detections.ToArray().OrderByDescending(d => d.Score).ToArray();
            var trainer = python[k].OrderByDescending(b => b[4]).ToArray();
            string frame = $"{Frames[k].Width} x {Frames[k].Height} frame";
            Assert.True(trainer.Length == device.Length, $"{frame}: the trainer keeps {trainer.Length} boxes, the device {device.Length}");
            if (expectWindowsOnly) Assert.InRange(device.Length, 1, Windows.Length);
            for (int i = 0; i < device.Length; i++)
            {
                var (d, p) = (device[i], trainer[i]);
                Assert.True(Math.Abs(d.Score - p[4]) <= ScoreTolerance, $"{frame}, box {i}: score trainer {p[4]}, device {d.Score}");
                double[] corners = [d.Box.X1, d.Box.Y1, d.Box.X2, d.Box.Y2];
                for (int c = 0; c < 4; c++)
                    Assert.True(Math.Abs(corners[c] - p[c]) <= CornerTolerance,
                        $"{frame}, box {i}: corner {c} trainer {p[c]}, device {corners[c]} (trainer box {string.Join(", ", p)})");
            }
            total += device.Length;
        }
        Assert.True(total > 0, "neither side kept a box on any frame: nothing was compared");
    }

    private static void CopyPackage(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
        {
            string target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    /// <summary>A frame with structure at every scale (gradients, blobs, noise), so the nets' scores spread out.</summary>
    private string WriteFrame(int width, int height, int seed)
    {
        string path = Path.Combine(_dir, $"frame{seed}.png");
        var rng = new Random(20261202 + seed);
        using var mat = new Mat(height, width, MatType.CV_8UC3);
        for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            mat.Set(y, x, new Vec3b((byte)((x * 3) + rng.Next(40)), (byte)((y * 2) + rng.Next(40)), (byte)(((x + y) / 2) + rng.Next(40))));
        for (int b = 0; b < 6; b++)
            Cv2.Circle(mat, new Point(rng.Next(width), rng.Next(height)), 4 + rng.Next(Math.Min(width, height) / 4), Scalar.All(rng.Next(256)), -1);
        Cv2.ImWrite(path, mat);
        return path;
    }

    /// <summary>eitrain.cascade.detect over the package's own ONNX weights: per image, rows (x1, y1, x2, y2, score).</summary>
    private List<double[][]> RunTrainerCascade(string package, string[] images)
    {
        const string script = """
            import json, os, sys
            sys.path.insert(0, sys.argv[1])
            import torch
            from eitrain import cascade, data, nets, package_weights
            torch.set_num_threads(1)
            package = sys.argv[2]
            with open(os.path.join(package, "manifest.json")) as f:
                cfg = cascade.config_from_manifest(json.load(f)["detector"])
            stages = [nets.PNet(), nets.RNet(), nets.ONet()]
            for net, name in zip(stages, ("pnet", "rnet", "onet")):
                package_weights.load_onnx_weights(net, os.path.join(package, name + ".onnx")).eval()
            out = [cascade.detect(stages, data.load_rgb(p), cfg, 3)[:, :5].astype(float).tolist() for p in sys.argv[3:]]
            print(json.dumps(out))
            """;
        var psi = new ProcessStartInfo(TrainingPython.Path, ["-c", script, Path.Combine(RepoPaths.Root, "tools", "train"), package, .. images])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(120_000), "the trainer's cascade did not finish in 120 s");
        Assert.True(p.ExitCode == 0, $"the trainer's cascade exited {p.ExitCode}: {stderr}");
        return JsonSerializer.Deserialize<List<double[][]>>(stdout.Result)!;
    }
}
