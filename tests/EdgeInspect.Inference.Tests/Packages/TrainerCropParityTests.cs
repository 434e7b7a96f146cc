using System.Diagnostics;
using System.Globalization;
using EdgeInspect.Core.Detection;
using EdgeInspect.Core.Geometry;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Imaging.OpenCv;
using EdgeInspect.TestSupport;
using OpenCvSharp;
using Xunit;

namespace EdgeInspect.Inference.Tests.Packages;

/// <summary>
/// The trainer must feed R-Net, O-Net and the classifier the very crops the device feeds them, or the nets meet
/// inputs on the line they never saw in training (it happened: the trainer's rounded 8-bit crops made R-Net keep
/// 105 boxes in Python and 144 on the device on one NEU image). Python's eitrain.data.stage_crop / region_crop
/// against the device's CascadeMath.CropOf / PackageInspector.CropRect with OpenCvImageOps.CropResizeArea, on the
/// same PNG, for boxes that cross the borders, have fractional corners, halves that round to even, and both
/// downscale and upscale.
/// </summary>
[Trait(TestCategories.Name, TestCategories.Slow)]
public sealed class TrainerCropParityTests : IDisposable
{
    // Both sides resize with OpenCV's float INTER_AREA (Debian's python3-opencv, OpenCvSharp's bundled OpenCV; the
    // device's managed kernel is bit-exact with the latter). Different OpenCV builds may round the last float bit
    // differently; a crop convention slip moves values by whole grey levels.
    private const float Tolerance = 1e-3f;
    private static readonly double[][] Boxes =
    [
        [10, 12, 60, 40],          // inside, downscale
        [-7.6, 3.2, 30.9, 52.7],   // left border, fractional corners (truncated toward zero on the cascade side)
        [70.5, 80.5, 95.5, 99.5],  // halves: round to even on the classifier side; crosses the bottom right corner
        [40, 40, 49, 47],          // smaller than 24 x 24: upscaled
        [1, 1, 100, 100],          // the whole image and one pixel beyond
    ];

    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-crop-parity-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [TrainingToolchainFact]
    public void TrainerCrops_EqualDeviceCrops_ForCascadeStagesAndClassifier() => AssertTrainerCropsEqualDeviceCrops(0f);

    /// <summary>
    /// input.cropMargin: O-Net on a pretrained trunk and the classifier see each box with context around it. 0.25
    /// is exact in float; 0.3 is not (0.30000001192 as the manifest's float), so the device must take the decimal the
    /// manifest wrote, as the trainer's double does, or a margin of a half pixel rounds the other way.
    /// </summary>
    [TrainingToolchainFact]
    public void TrainerCrops_WithCropMargin_EqualDeviceCrops()
    {
        AssertTrainerCropsEqualDeviceCrops(0.25f);
        AssertTrainerCropsEqualDeviceCrops(0.3f);
    }

    private void AssertTrainerCropsEqualDeviceCrops(float margin)
    {
        string image = Path.Combine(_dir, "probe.png");
        using (var mat = new Mat(100, 100, MatType.CV_8UC3))
        {
            // Every pixel different in every channel, so a shifted or mirrored crop cannot pass.
            var rng = new Random(20261123);
            for (int y = 0; y < 100; y++)
            for (int x = 0; x < 100; x++)
                mat.Set(y, x, new Vec3b((byte)rng.Next(256), (byte)((x * 7) + y), (byte)((y * 5) + (x / 3))));
            Cv2.ImWrite(image, mat);
        }
        const int size = 24;
        float[] python = RunTrainer(image, size, margin);
        int crop = size * size * 3;
        Assert.Equal(Boxes.Length * 2 * crop, python.Length);

        using var ops = new OpenCvImageOps();
        using var img = ops.Decode(image);
        var device = new float[crop];
        for (int k = 0; k < Boxes.Length; k++)
        {
            var b = Boxes[k];
            var window = CascadeMath.CropOf(new Candidate(b[0], b[1], b[2], b[3], 1), img.Width, img.Height, CascadeMath.AsDecimalDouble(margin));
            ops.CropResizeArea(img, window.X, window.Y, window.Width, window.Height, size, size, device);
            AssertSame(python.AsSpan(k * crop, crop), device, size, $"stage crop (margin {margin}) of box {k} ({string.Join(", ", b)})");

            var (x, y, w, h) = PackageInspector.CropRect(new BoxF((float)b[0], (float)b[1], (float)b[2], (float)b[3]), margin);
            ops.CropResizeArea(img, x, y, w, h, size, size, device);
            AssertSame(python.AsSpan((Boxes.Length + k) * crop, crop), device, size, $"region crop (margin {margin}) of box {k} ({string.Join(", ", b)})");
        }
    }

    /// <summary>Python crops are RGB (the trainer converts on load), the device's BGR (its packer swaps).</summary>
    private static void AssertSame(ReadOnlySpan<float> rgb, float[] bgr, int size, string what)
    {
        for (int p = 0; p < size * size; p++)
        {
            for (int c = 0; c < 3; c++)
            {
                float expected = rgb[(p * 3) + c], actual = bgr[(p * 3) + 2 - c];
                Assert.True(Math.Abs(expected - actual) <= Tolerance,
                    $"{what}: pixel ({p % size}, {p / size}) channel {"RGB"[c]}: trainer {expected}, device {actual}");
            }
        }
    }

    private float[] RunTrainer(string image, int size, float margin)
    {
        string output = Path.Combine(_dir, "crops.f32");
        string boxes = string.Join(";", Boxes.Select(b => string.Join(",", b.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))));
        const string script = """
            import sys
            import numpy as np
            sys.path.insert(0, sys.argv[1])
            from eitrain import data
            img = data.load_rgb(sys.argv[2])
            size = int(sys.argv[3])
            boxes = [np.array([float(v) for v in b.split(",")]) for b in sys.argv[4].split(";")]
            margin = float(sys.argv[6])
            crops = [data.stage_crop(img, b, size, margin) for b in boxes] + [data.region_crop(img, b, size, margin) for b in boxes]
            np.stack(crops).astype(np.float32).tofile(sys.argv[5])
            """;
        var psi = new ProcessStartInfo(TrainingPython.Path,
            ["-c", script, Path.Combine(RepoPaths.Root, "tools", "train"), image, size.ToString(CultureInfo.InvariantCulture), boxes, output,
                margin.ToString("R", CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        _ = p.StandardOutput.ReadToEndAsync();
        string stderr = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(60_000), "the trainer's crop script did not finish in 60 s");
        Assert.True(p.ExitCode == 0, $"the trainer's crop script exited {p.ExitCode}: {stderr}");
        var bytes = File.ReadAllBytes(output);
        var values = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        return values;
    }
}
