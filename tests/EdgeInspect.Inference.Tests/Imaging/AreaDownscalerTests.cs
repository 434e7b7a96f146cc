using EdgeInspect.Core.Imaging;
using EdgeInspect.Imaging.OpenCv;
using Xunit;

namespace EdgeInspect.Inference.Tests.Imaging;

/// <summary>
/// The managed INTER_AREA kernel against OpenCV itself (<see cref="OpenCvImageOps.UseManagedArea"/> = false): every
/// output value must be identical, not close, since the cascade's conformance rests on OpenCV's numbers.
/// </summary>
[Collection(AllocationMeasurements.Name)]
public sealed class AreaDownscalerTests
{
    private static ImageBuffer Random(int w, int h, int seed)
    {
        var img = new ImageBuffer(w, h);
        new Random(seed).NextBytes(img.Pixels);
        return img;
    }

    public static TheoryData<int, int, int, int> PyramidSizes()
    {
        var data = new TheoryData<int, int, int, int>();
        // MTCNN pyramid levels of the fixture photo sizes (scale 0.6 * 0.709^k, ceil), and odd ratios.
        foreach (var (w, h) in new[] { (512, 512), (561, 561), (640, 427), (199, 148) })
        {
            double s = 0.6;
            while (Math.Min(w, h) * s >= 12)
            {
                data.Add(w, h, (int)Math.Ceiling(w * s), (int)Math.Ceiling(h * s));
                s *= 0.709;
            }
        }
        data.Add(37, 23, 24, 12);
        data.Add(100, 7, 33, 5);
        data.Add(3, 3, 2, 2);
        data.Add(1000, 30, 999, 29);
        return data;
    }

    [Theory]
    [MemberData(nameof(PyramidSizes))]
    public void ResizeArea_8Bit_EqualsOpenCvExactly(int w, int h, int dw, int dh)
    {
        Assert.True(AreaDownscaler.Handles(w, h, dw, dh));
        using var managed = new OpenCvImageOps();
        using var opencv = new OpenCvImageOps { UseManagedArea = false };
        using var src = Random(w, h, (w * 31) + h);
        using var a = new ImageBuffer(dw, dh);
        using var b = new ImageBuffer(dw, dh);

        managed.ResizeArea(src, a);
        opencv.ResizeArea(src, b);

        Assert.True(a.Pixels.SequenceEqual(b.Pixels), FirstDifference(a.Pixels, b.Pixels, dw));
    }

    [Fact]
    public void ResizeAreaEach_Pyramid_EqualsOneOpenCvResizePerLevel()
    {
        using var managed = new OpenCvImageOps();
        using var opencv = new OpenCvImageOps { UseManagedArea = false };
        using var src = Random(640, 427, 7);
        // Includes sizes the managed kernel does not take (equal size, integer ratio, upscale): those go to OpenCV.
        var sizes = new[] { (384, 257), (640, 427), (320, 427), (273, 182), (700, 500), (14, 10) };
        var levels = sizes.Select(s => new ImageBuffer(s.Item1, s.Item2)).ToArray();
        try
        {
            managed.ResizeAreaEach(src, levels);
            foreach (var level in levels)
            {
                using var expected = new ImageBuffer(level.Width, level.Height);
                opencv.ResizeArea(src, expected);
                Assert.True(level.Pixels.SequenceEqual(expected.Pixels), $"{level.Width}x{level.Height}: {FirstDifference(level.Pixels, expected.Pixels, level.Width)}");
            }
        }
        finally
        {
            foreach (var l in levels) l.Dispose();
        }
    }

    public static TheoryData<int, int, int, bool> StreamedPyramids()
    {
        var data = new TheoryData<int, int, int, bool>();
        foreach (var (w, h) in new[] { (512, 512), (561, 561), (640, 427), (199, 148), (97, 1003), (1003, 31), (13, 17) })
        {
            foreach (int workers in new[] { 1, 2, 3 }) data.Add(w, h, workers, false);
        }
        data.Add(561, 561, 2, true);
        data.Add(199, 148, 3, true);
        data.Add(97, 1003, 2, true);
        return data;
    }

    [Theory]
    [MemberData(nameof(StreamedPyramids))]
    public void ResizeAreaEach_MtcnnPyramid_EqualsOpenCvPerLevelAndReportsEveryRowOnce(int w, int h, int workers, bool portable)
    {
        // The streaming pyramid (AreaPyramid): bands of source rows per worker, rows finished as they stream by.
        // portable: the Vector<T> paths without AVX, forced here (.ci/run also runs these tests with 128-bit vectors,
        // the 4 lanes of an ARM device).
        AreaDownscaler.PortableOnly = portable;
        try
        {
            using var managed = new OpenCvImageOps(workers);
            using var opencv = new OpenCvImageOps { UseManagedArea = false };
            using var src = Random(w, h, (w * 7) + h + workers);
            var levels = new List<ImageBuffer>();
            for (double s = 0.6; Math.Min(w, h) * s >= 12; s *= 0.709)
            {
                levels.Add(new ImageBuffer((int)Math.Ceiling(w * s), (int)Math.Ceiling(h * s)));
            }
            levels.Add(new ImageBuffer(Math.Max(1, w / 3), Math.Max(1, h - 1)));
            try
            {
                var sink = new RowCounter(levels);
                managed.ResizeAreaEach(src, levels.ToArray(), sink);
                for (int l = 0; l < levels.Count; l++)
                {
                    var level = levels[l];
                    using var expected = new ImageBuffer(level.Width, level.Height);
                    opencv.ResizeArea(src, expected);
                    Assert.True(level.Pixels.SequenceEqual(expected.Pixels), $"{level.Width}x{level.Height}: {FirstDifference(level.Pixels, expected.Pixels, level.Width)}");
                    Assert.All(sink.Reports[l], n => Assert.Equal(1, n));
                }
            }
            finally
            {
                foreach (var l in levels) l.Dispose();
            }
        }
        finally
        {
            AreaDownscaler.PortableOnly = false;
        }
    }

    /// <summary>Counts how often each row of each level is reported ready (must be exactly once).</summary>
    private sealed class RowCounter(IReadOnlyList<ImageBuffer> levels) : IResizeSink
    {
        public int[][] Reports { get; } = [.. levels.Select(l => new int[l.Height])];

        public void RowsReady(int level, int y0, int y1, int worker)
        {
            for (int y = y0; y < y1; y++) Interlocked.Increment(ref Reports[level][y]);
        }
    }

    [Theory]
    [InlineData(10, 10, 60, 45, 24, 24)]   // inside
    [InlineData(-20, -7, 61, 50, 24, 24)]  // past the top-left corner: zero padding
    [InlineData(90, 80, 50, 50, 48, 48)]   // past the bottom-right corner
    [InlineData(-5, 3, 200, 31, 24, 24)]   // wider than the image
    [InlineData(20, 20, 25, 49, 24, 24)]   // one axis barely above the output size
    public void CropResizeArea_Float_EqualsOpenCvExactly(int x, int y, int w, int h, int ow, int oh)
    {
        using var managed = new OpenCvImageOps();
        using var opencv = new OpenCvImageOps { UseManagedArea = false };
        using var src = Random(120, 110, x + y);
        var a = new float[ow * oh * 3];
        var b = new float[ow * oh * 3];

        managed.CropResizeArea(src, x, y, w, h, ow, oh, a);
        opencv.CropResizeArea(src, x, y, w, h, ow, oh, b);

        for (int i = 0; i < a.Length; i++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(a[i]) == BitConverter.SingleToInt32Bits(b[i]), $"value {i}: managed {a[i]:R}, OpenCV {b[i]:R}");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void CropResizeAreaEach_ManyCrops_EqualOpenCvExactly(bool portable)
    {
        AreaDownscaler.PortableOnly = portable;
        try
        {
            using var managed = new OpenCvImageOps(2);
            using var opencv = new OpenCvImageOps { UseManagedArea = false };
            using var src = Random(300, 200, 5);
            var rng = new Random(11);
            var crops = Enumerable.Range(0, 60).Select(_ => new PixelRect(rng.Next(-40, 280), rng.Next(-40, 180), rng.Next(25, 120), rng.Next(25, 120))).ToArray();
            var a = new float[crops.Length * 24 * 24 * 3];
            var b = new float[a.Length];
            managed.CropResizeAreaEach(src, crops, 24, 24, a);
            opencv.CropResizeAreaEach(src, crops, 24, 24, b);
            for (int i = 0; i < a.Length; i++)
            {
                Assert.True(BitConverter.SingleToInt32Bits(a[i]) == BitConverter.SingleToInt32Bits(b[i]), $"crop {i / (24 * 24 * 3)} value {i % (24 * 24 * 3)}: managed {a[i]:R}, OpenCV {b[i]:R}");
            }
        }
        finally
        {
            AreaDownscaler.PortableOnly = false;
        }
    }

    [Theory]
    [InlineData(100, 100, 50, 50)]   // integer ratio: OpenCV's resizeAreaFast
    [InlineData(100, 100, 100, 100)] // same size
    [InlineData(20, 20, 24, 24)]     // upscale
    [InlineData(100, 20, 50, 24)]    // up on one axis
    public void Handles_OnlyTheGeneralDownscale(int w, int h, int dw, int dh) => Assert.False(AreaDownscaler.Handles(w, h, dw, dh));

    [Fact]
    public void ResizeArea_Warm_AllocatesNothing()
    {
        using var ops = new OpenCvImageOps();
        using var src = Random(561, 561, 1);
        using var dst = new ImageBuffer(337, 337);
        for (int i = 0; i < 5; i++) ops.ResizeArea(src, dst); // warm: buffers sized, code jitted
        long before = GC.GetAllocatedBytesForCurrentThread();
        ops.ResizeArea(src, dst);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private static string FirstDifference(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, int width)
    {
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] != b[i]) return $"first difference at x={i / 3 % width}, y={i / 3 / width}, c={i % 3}: managed {a[i]}, OpenCV {b[i]}";
        }
        return "";
    }
}
