using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Packages;
using EdgeInspect.Core.Telemetry;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EdgeInspect.Core.Tests.Telemetry;

public sealed class LatencyAndDriftTests
{
    [Fact]
    public void Percentiles_FewerValuesThanCapacity_ExactNearestRank()
    {
        var r = new LatencyReservoir(capacity: 4096);
        // 1..1000 ms in a scrambled order: nearest rank p of 1000 values is the value p*10 exactly (tolerance 0)
        foreach (var v in Enumerable.Range(1, 1000).OrderBy(i => (i * 7919) % 1000)) r.Add(v);
        var p = r.Percentiles()!;
        Assert.Equal(1000, p.Count);
        Assert.Equal(500, p.P50);
        Assert.Equal(950, p.P95);
        Assert.Equal(990, p.P99);
        Assert.Equal(1000, p.Max);
    }

    [Fact]
    public void Percentiles_MoreValuesThanCapacity_UniformSampleWithinStatedTolerance()
    {
        // 200,000 values uniform on [0, 100) ms through a 4096-slot reservoir (seeded, so the run is repeatable).
        // Tolerance: a nearest-rank percentile of a 4096 uniform sample has a standard error of about
        // 100*sqrt(p(1-p)/4096) ms: 0.78 at p50, 0.34 at p95, 0.16 at p99; allowed here: 3 standard errors.
        var r = new LatencyReservoir(capacity: 4096, random: new Random(42));
        var source = new Random(7);
        for (var i = 0; i < 200_000; i++) r.Add(source.NextDouble() * 100);
        var p = r.Percentiles()!;
        Assert.Equal(200_000, p.Count);
        Assert.InRange(p.P50, 50 - 2.4, 50 + 2.4);
        Assert.InRange(p.P95, 95 - 1.0, 95 + 1.0);
        Assert.InRange(p.P99, 99 - 0.5, 99 + 0.5);
        r.Reset();
        Assert.Null(r.Percentiles());
    }

    [Fact]
    public void Recorder_Snapshot_RatesPercentilesClassesAndNoDetection()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
        var rec = new TelemetryRecorder("dev-1", time, thermalRoot: "/nonexistent");
        for (var i = 0; i < 50; i++) rec.FrameCaptured();
        for (var i = 0; i < 5; i++) rec.FrameDropped();
        for (var i = 1; i <= 100; i++) rec.StageLatencyMs("total", i);
        rec.StageLatency("pnet", TimeSpan.FromMilliseconds(8));
        rec.PartInspected("ok", 0);
        rec.PartInspected("ok", 0);
        rec.PartInspected("scratch", 2);
        rec.PartInspected("ok", 1);
        rec.PartInspected(null, 0); // model not run: a part, but no output
        time.Advance(TimeSpan.FromSeconds(10));
        var s = rec.TakeSnapshot();
        Assert.Equal(10, s.IntervalSeconds);
        Assert.Equal(5.0, s.Frames.FrameRate, 9);
        Assert.Equal(0.5, s.Frames.DropRate, 9);
        Assert.Equal(0.5, s.Frames.PartRate, 9);
        Assert.Equal(50, s.LatencyMs["total"].P50);
        Assert.Equal(95, s.LatencyMs["total"].P95);
        Assert.Equal(8, s.LatencyMs["pnet"].P99);
        Assert.Equal(4, s.Output.Parts);
        Assert.Equal(3, s.Output.Classes["ok"]);
        Assert.Equal(0.5, s.Output.NoDetectionFraction);
        Assert.Null(s.Process.TemperatureC);
        var m = s.Metrics();
        Assert.Equal(0.75, m["class.ok.fraction"], 9);
        Assert.Equal(95, m["latency.total.p95"]);
        Assert.False(m.ContainsKey("temperatureC"));
        // the next interval starts empty
        time.Advance(TimeSpan.FromSeconds(10));
        var next = rec.TakeSnapshot();
        Assert.Equal(0, next.Frames.Captured);
        Assert.Empty(next.LatencyMs);
        Assert.Null(next.Output.NoDetectionFraction);
    }

    [Fact]
    public void Temperature_ThermalZones_HottestInCelsiusAndUnreadableSkipped()
    {
        var root = Directory.CreateTempSubdirectory("edgeinspect-thermal-").FullName;
        try
        {
            Assert.Null(ProcessMetrics.ReadTemperature(root));
            foreach (var (zone, text) in new[] { ("thermal_zone0", "45500\n"), ("thermal_zone1", "61000\n"), ("thermal_zone2", "garbage") })
            {
                Directory.CreateDirectory(Path.Combine(root, zone));
                File.WriteAllText(Path.Combine(root, zone, "temp"), text);
            }
            Directory.CreateDirectory(Path.Combine(root, "thermal_zone3")); // no temp file
            Assert.Equal(61.0, ProcessMetrics.ReadTemperature(root));
        }
        finally
        {
            Directory.Delete(root, true);
        }
    }

    [Fact]
    public void FrameStatistics_KnownImages_BrightnessContrastSharpnessAndNoAllocation()
    {
        using var flat = Image(320, 240, (_, _) => 128);
        var f = FrameStatistics.Compute(flat);
        Assert.Equal(128, f.Brightness, 9); // gray of (128,128,128) is exactly 128 with the BT.601 integer weights
        Assert.Equal(0, f.Contrast, 9);
        Assert.Equal(0, f.Sharpness, 9);

        // half black, half white: mean 127.5 (tolerance: exact), std 127.5
        using var halves = Image(320, 240, (x, _) => x < 160 ? 0 : 255);
        var h = FrameStatistics.Compute(halves);
        Assert.Equal(127.5, h.Brightness, 6);
        Assert.Equal(127.5, h.Contrast, 6);

        // hard-edged 32 px squares are sharper than the same pattern out of focus (a smooth sine between the squares)
        using var sharp = Image(640, 480, (x, y) => ((x / 32 + y / 32) % 2) * 200);
        using var blurred = Image(640, 480, (x, y) => (int)(100 + 100 * Math.Sin(x * Math.PI / 32) * Math.Sin(y * Math.PI / 32)));
        Assert.True(FrameStatistics.Compute(sharp).Sharpness > 4 * FrameStatistics.Compute(blurred).Sharpness);

        FrameStatistics.Compute(sharp);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 20; i++) FrameStatistics.Compute(sharp);
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }

    [Fact]
    public void Drift_BaselineFromFirstFrames_ShiftOfThreeStdScoresAboutThree()
    {
        var drift = new InputDrift(baselineFrames: 2000);
        var rng = new Random(3);
        double Normal(double mean, double std) => mean + std * Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        for (var i = 0; i < 2000; i++) drift.Add(new FrameStatistics(Normal(100, 10), Normal(40, 4), Normal(500, 50)));
        Assert.Equal("firstFrames", drift.Baseline!.Source);
        drift.TakeInterval();

        // same scene: the interval mean of 500 frames sits within a few hundredths of a std of the baseline
        for (var i = 0; i < 500; i++) drift.Add(new FrameStatistics(Normal(100, 10), Normal(40, 4), Normal(500, 50)));
        var same = drift.TakeInterval();
        Assert.InRange(same.DriftScore!.Value, 0, 0.25);

        // the light got brighter by 3 std: brightness drift 3 (tolerance 0.25: the baseline std is itself estimated
        // from 2000 frames, about 1.6% error, plus the interval mean's own error), the others stay near 0
        for (var i = 0; i < 500; i++) drift.Add(new FrameStatistics(Normal(130, 10), Normal(40, 4), Normal(500, 50)));
        var brighter = drift.TakeInterval();
        Assert.InRange(brighter.BrightnessDrift!.Value, 2.75, 3.25);
        Assert.InRange(brighter.ContrastDrift!.Value, 0, 0.25);
        Assert.Equal(brighter.BrightnessDrift, brighter.DriftScore);
    }

    [Fact]
    public void Drift_ManifestBaseline_UsedAtOnceAndExact()
    {
        var drift = new InputDrift();
        drift.SetBaseline(new InputBaseline { Brightness = 100, BrightnessStd = 10, Contrast = 40, ContrastStd = 4, Sharpness = 500, SharpnessStd = 50 });
        drift.Add(new FrameStatistics(120, 40, 400));
        drift.Add(new FrameStatistics(120, 44, 400));
        var s = drift.TakeInterval();
        Assert.Equal("manifest", s.Baseline!.Source);
        Assert.Equal(2.0, s.BrightnessDrift!.Value, 9);
        Assert.Equal(0.5, s.ContrastDrift!.Value, 9);
        Assert.Equal(2.0, s.SharpnessDrift!.Value, 9);
        Assert.Equal(2.0, s.DriftScore!.Value, 9);
        Assert.Null(drift.TakeInterval().DriftScore); // no frames: no value, not 0
    }

    private static ImageBuffer Image(int w, int h, Func<int, int, int> gray)
    {
        var img = new ImageBuffer(w, h);
        var px = img.Pixels;
        for (var y = 0; y < h; y++)
        {
            for (var x = 0; x < w; x++)
            {
                var g = (byte)Math.Clamp(gray(x, y), 0, 255);
                var i = y * img.Stride + x * 3;
                px[i] = px[i + 1] = px[i + 2] = g;
            }
        }
        return img;
    }
}
