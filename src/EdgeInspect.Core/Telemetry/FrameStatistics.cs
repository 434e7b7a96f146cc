using EdgeInspect.Core.Imaging;

namespace EdgeInspect.Core.Telemetry;

/// <summary>
/// Input statistics of one frame, on an 8-bit gray scale (0..255): brightness = mean gray, contrast = standard
/// deviation of gray, sharpness = variance of the 4-neighbour Laplacian (Pech-Pacheco et al., "Diatom autofocusing in
/// brightfield microscopy: a comparative study", ICPR 2000: the variance of the Laplacian as a focus measure).
/// </summary>
public readonly record struct FrameStatistics(double Brightness, double Contrast, double Sharpness)
{
    /// <summary>The sampled grid is at most this many points wide / high.</summary>
    public const int MaxGridSide = 160;

    /// <summary>Statistics of an interleaved BGR frame (see <see cref="Compute(ReadOnlySpan{byte}, int, int, int)"/>).</summary>
    public static FrameStatistics Compute(ImageBuffer image)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Compute(image.Pixels, image.Width, image.Height, image.Stride);
    }

    /// <summary>
    /// Computes the statistics on a downscaled gray view: every step-th pixel in x and y, step chosen so the grid is at
    /// most <see cref="MaxGridSide"/> points per side (a 1920x1080 frame costs about 160x90 samples). Gray is
    /// ITU-R BT.601 luma in integer arithmetic. No scratch buffer and no allocation: each sample's gray value is
    /// recomputed where the Laplacian needs it. The Laplacian is taken on the sampled grid, so its scale depends on the
    /// step: compare sharpness only between frames of the same size (a baseline is per camera and model anyway).
    /// </summary>
    public static FrameStatistics Compute(ReadOnlySpan<byte> bgr, int width, int height, int stride)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (stride < width * 3) throw new ArgumentOutOfRangeException(nameof(stride), "stride is shorter than a BGR row");
        if (bgr.Length < (height - 1) * stride + width * 3) throw new ArgumentException("buffer shorter than the frame", nameof(bgr));
        var step = Math.Max(1, Math.Max((width + MaxGridSide - 1) / MaxGridSide, (height + MaxGridSide - 1) / MaxGridSide));
        var gw = (width + step - 1) / step;
        var gh = (height + step - 1) / step;

        double sum = 0, sumSq = 0;
        for (var gy = 0; gy < gh; gy++)
        {
            for (var gx = 0; gx < gw; gx++)
            {
                double g = Gray(bgr, stride, gx * step, gy * step);
                sum += g;
                sumSq += g * g;
            }
        }
        var n = (double)gw * gh;
        var mean = sum / n;
        var variance = Math.Max(0, sumSq / n - mean * mean);

        double lSum = 0, lSumSq = 0;
        long ln = 0;
        for (var gy = 1; gy < gh - 1; gy++)
        {
            for (var gx = 1; gx < gw - 1; gx++)
            {
                int x = gx * step, y = gy * step;
                double lap = 4 * Gray(bgr, stride, x, y) - Gray(bgr, stride, x - step, y) - Gray(bgr, stride, x + step, y)
                             - Gray(bgr, stride, x, y - step) - Gray(bgr, stride, x, y + step);
                lSum += lap;
                lSumSq += lap * lap;
                ln++;
            }
        }
        var sharpness = 0.0;
        if (ln > 0)
        {
            var lMean = lSum / ln;
            sharpness = Math.Max(0, lSumSq / ln - lMean * lMean);
        }
        return new FrameStatistics(mean, Math.Sqrt(variance), sharpness);
    }

    /// <summary>BT.601 luma, 0..255: (29 B + 150 G + 77 R) / 256.</summary>
    private static int Gray(ReadOnlySpan<byte> bgr, int stride, int x, int y)
    {
        var i = y * stride + x * 3;
        return (29 * bgr[i] + 150 * bgr[i + 1] + 77 * bgr[i + 2]) >> 8;
    }
}
