using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace EdgeInspect.Imaging.OpenCv;

/// <summary>
/// OpenCV's INTER_AREA downscale (the general, non-integer-ratio path: <c>computeResizeAreaTab</c> and
/// <c>ResizeArea_Invoker</c> in imgproc/src/resize.cpp) reproduced bit for bit, but vectorised across source rows.
/// <para>
/// Why it exists: the cascade resizes the full frame once per pyramid level (the reference does, and its results
/// depend on it), and OpenCV runs that path as a scalar loop on one core; on the fixture photos it was 90 % of
/// the P-Net stage's own overhead. The arithmetic here is OpenCV's, in OpenCV's order: per source row the
/// horizontal sums <c>buf = ((0 + s0 * a0) + s1 * a1) + ...</c> in float, then per output row
/// <c>sum = (beta0 * buf0) + beta1 * buf1 + ...</c>, rounded half to even and saturated. Only the loop nest differs:
/// the source is staged transposed (each column's rows contiguous), so one SIMD lane per source row computes the
/// horizontal sums of <see cref="Vector{T}.Count"/> rows at once; the sums are then stored row-major so the
/// vertical pass runs one lane per output column. Each lane performs exactly the scalar operation
/// sequence (no fused multiply-add: .NET never contracts a * b + c), so the result equals OpenCV's; the tests
/// compare the two on random images of many sizes.
/// </para>
/// <para>
/// Everything else (upscaling, integer ratios, which OpenCV sends to other kernels) is left to OpenCV:
/// <see cref="Handles"/> says which sizes this covers. Three interleaved channels. Not thread-safe; buffers grow to
/// the largest source and are reused, so a warm call allocates nothing.
/// </para>
/// </summary>
public sealed class AreaDownscaler
{
    private const int Channels = 3;
    private static readonly int Lanes = Vector<float>.Count;
    private const double DblEpsilon = 2.220446049250313e-16; // C's DBL_EPSILON, which OpenCV compares against

    private float[] _staged = [];   // source as float, transposed: [(x * 3 + c) * _stride + y]
    private float[] _sums = [];     // horizontal sums, row-major: [y * _rowStride + dx * 3 + c]
    private float[] _row = [];      // one output row being summed
    private float[] _lanes = [];    // one block's horizontal sums, lane by lane
    private AreaTab[] _xtab = [];
    private AreaTab[] _ytab = [];
    private int[] _xofs = [];       // first xtab entry of each output column (entries of one column are consecutive)
    private int[] _yofs = [];       // first ytab entry of each output row
    private int _width, _height, _stride, _rowStride;

    /// <summary>True when OpenCV would resize <paramref name="srcWidth"/> x <paramref name="srcHeight"/> to the destination size with the general INTER_AREA kernel this class reproduces.</summary>
    public static bool Handles(int srcWidth, int srcHeight, int dstWidth, int dstHeight)
    {
        if (srcWidth <= 0 || srcHeight <= 0 || dstWidth <= 0 || dstHeight <= 0) return false;
        // cv::resize: inv_scale = dsize / ssize, scale = 1 / inv_scale; area only when both scales are >= 1.
        double scaleX = 1.0 / ((double)dstWidth / srcWidth), scaleY = 1.0 / ((double)dstHeight / srcHeight);
        if (scaleX < 1 || scaleY < 1) return false;
        bool integerRatio = Math.Abs(scaleX - CvRound(scaleX)) < DblEpsilon && Math.Abs(scaleY - CvRound(scaleY)) < DblEpsilon;
        return !integerRatio; // integer ratios go to OpenCV's resizeAreaFast, a different kernel
    }

    /// <summary>Stages a whole 8-bit BGR image (HWC, tightly packed) as the source of the next resizes.</summary>
    public void Stage(ReadOnlySpan<byte> bgr, int width, int height) => StageRegion(bgr, width, height, 0, 0, width, height);

    /// <summary>
    /// Stages the rectangle [x, x + width) x [y, y + height) of an 8-bit BGR image; pixels outside the image are
    /// zero (the reference's zero-padded crop).
    /// </summary>
    public void StageRegion(ReadOnlySpan<byte> bgr, int imageWidth, int imageHeight, int x, int y, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        _width = width;
        _height = height;
        _stride = (height + Lanes - 1) / Lanes * Lanes;
        // A power-of-two-ish column stride (a 512-row image: 2 KB) maps every column onto the same few L1 sets and the
        // horizontal pass thrashes (measured: 11 ms instead of 4 on a 512 x 512 pyramid); one extra block avoids it.
        if (_stride % (8 * Lanes) == 0) _stride += Lanes;
        int columns = width * Channels;
        Ensure(ref _staged, columns * _stride);
        var staged = _staged.AsSpan(0, columns * _stride);

        int x0 = Math.Max(0, -x), x1 = Math.Min(width, imageWidth - x);   // patch columns that are inside the image
        int y0 = Math.Max(0, -y), y1 = Math.Min(height, imageHeight - y); // patch rows that are inside the image
        if (x0 > 0 || x1 < width || y0 > 0 || y1 < height || _stride != height) staged.Clear();
        if (x0 >= x1 || y0 >= y1) return;

        int rowBytes = imageWidth * Channels;
        int inside = (x1 - x0) * Channels;
        int first = ((y + y0) * rowBytes) + ((x + x0) * Channels);
        // Transpose in bands of rows: each column's few values of the band are written side by side (one cache
        // line), while the band's rows are read sequentially; row by row, every write would land on a new line.
        const int Band = 16;
        for (int py0 = y0; py0 < y1; py0 += Band)
        {
            int rows = Math.Min(Band, y1 - py0);
            int bandStart = first + ((py0 - y0) * rowBytes);
            for (int i = 0; i < inside; i++)
            {
                var dst = staged.Slice((((x0 * Channels) + i) * _stride) + py0, rows);
                int s = bandStart + i;
                for (int r = 0; r < dst.Length; r++, s += rowBytes) dst[r] = bgr[s];
            }
        }
    }

    /// <summary>Resizes the staged source to dstWidth x dstHeight, 8-bit BGR out (HWC), as cv::resize INTER_AREA on CV_8UC3.</summary>
    public void ResizeTo(int dstWidth, int dstHeight, Span<byte> destination)
    {
        Horizontal(dstWidth, dstHeight, destination.Length);
        int columns = dstWidth * Channels;
        var row = _row.AsSpan(0, columns);
        for (int dy = 0; dy < dstHeight; dy++)
        {
            Vertical(dy);
            var dst = destination.Slice(dy * columns, columns);
            // saturate_cast<uchar>(float): cvRound (nearest, ties to even), then clamp.
            for (int i = 0; i < dst.Length; i++) dst[i] = (byte)Math.Clamp((int)MathF.Round(row[i]), 0, 255);
        }
    }

    /// <summary>Resizes the staged source to dstWidth x dstHeight, float BGR out (HWC), as cv::resize INTER_AREA on CV_32FC3.</summary>
    public void ResizeTo(int dstWidth, int dstHeight, Span<float> destination)
    {
        Horizontal(dstWidth, dstHeight, destination.Length);
        int columns = dstWidth * Channels;
        for (int dy = 0; dy < dstHeight; dy++)
        {
            Vertical(dy);
            _row.AsSpan(0, columns).CopyTo(destination.Slice(dy * columns, columns));
        }
    }

    /// <summary>
    /// One output row into <see cref="_row"/>: OpenCV's <c>sum = beta * buf</c> for the row's first source row, then
    /// <c>sum += beta * buf</c> for the others, one lane per output column.
    /// </summary>
    private void Vertical(int dy)
    {
        int vectors = _rowStride / Lanes;
        var sums = MemoryMarshal.Cast<float, Vector<float>>(_sums.AsSpan(0, _height * _rowStride));
        var acc = MemoryMarshal.Cast<float, Vector<float>>(_row.AsSpan(0, _rowStride));
        int j0 = _yofs[dy], j1 = _yofs[dy + 1];
        var beta = new Vector<float>(_ytab[j0].Alpha);
        var src = sums.Slice(_ytab[j0].Source * vectors, vectors);
        for (int v = 0; v < acc.Length; v++) acc[v] = beta * src[v];
        for (int j = j0 + 1; j < j1; j++)
        {
            beta = new Vector<float>(_ytab[j].Alpha);
            src = sums.Slice(_ytab[j].Source * vectors, vectors);
            for (int v = 0; v < acc.Length; v++) acc[v] += beta * src[v];
        }
    }

    /// <summary>
    /// Builds both tables and runs the horizontal pass: every staged row, one lane per source row, then each
    /// lane's sum is stored into its row of <see cref="_sums"/> (row-major, so the vertical pass runs one lane per
    /// output column).
    /// </summary>
    private void Horizontal(int dstWidth, int dstHeight, int destinationLength)
    {
        if (_stride == 0) throw new InvalidOperationException("nothing staged");
        if (!Handles(_width, _height, dstWidth, dstHeight))
            throw new ArgumentException($"{_width}x{_height} -> {dstWidth}x{dstHeight} is not a general INTER_AREA downscale");
        if (destinationLength < dstWidth * dstHeight * Channels) throw new ArgumentException("destination is too small");

        double scaleX = 1.0 / ((double)dstWidth / _width), scaleY = 1.0 / ((double)dstHeight / _height);
        Ensure(ref _xtab, _width * 2);
        Ensure(ref _ytab, _height * 2);
        Ensure(ref _xofs, dstWidth + 1);
        Ensure(ref _yofs, dstHeight + 1);
        ComputeTab(_width, dstWidth, scaleX, _xtab, _xofs);
        ComputeTab(_height, dstHeight, scaleY, _ytab, _yofs);

        int columns = dstWidth * Channels;
        _rowStride = (columns + Lanes - 1) / Lanes * Lanes;
        Ensure(ref _sums, _stride * _rowStride);
        Ensure(ref _row, _rowStride);
        Ensure(ref _lanes, Lanes * Channels);
        var staged = MemoryMarshal.Cast<float, Vector<float>>(_staged.AsSpan(0, _width * Channels * _stride));
        var sums = _sums.AsSpan(0, _stride * _rowStride);
        var lanes = _lanes.AsSpan(0, Lanes * Channels);
        int blocks = _stride / Lanes;
        var xtab = _xtab;
        for (int dx = 0; dx < dstWidth; dx++)
        {
            int k0 = _xofs[dx], k1 = _xofs[dx + 1];
            int dc = dx * Channels;
            for (int b = 0; b < blocks; b++)
            {
                Vector<float> s0 = Vector<float>.Zero, s1 = Vector<float>.Zero, s2 = Vector<float>.Zero;
                for (int k = k0; k < k1; k++)
                {
                    var alpha = new Vector<float>(xtab[k].Alpha);
                    int i = (xtab[k].Source * Channels * blocks) + b;
                    // t = buf + S * alpha, per channel, exactly OpenCV's cn == 3 loop.
                    s0 += staged[i] * alpha;
                    s1 += staged[i + blocks] * alpha;
                    s2 += staged[i + (2 * blocks)] * alpha;
                }
                s0.CopyTo(lanes);
                s1.CopyTo(lanes[Lanes..]);
                s2.CopyTo(lanes[(2 * Lanes)..]);
                int o = (b * Lanes * _rowStride) + dc;
                for (int l = 0; l < Lanes; l++, o += _rowStride)
                {
                    sums[o] = lanes[l];
                    sums[o + 1] = lanes[Lanes + l];
                    sums[o + 2] = lanes[(2 * Lanes) + l];
                }
            }
        }
    }

    /// <summary>computeResizeAreaTab, in double exactly as OpenCV computes it; <paramref name="ofs"/> gets each output's first entry.</summary>
    private static void ComputeTab(int ssize, int dsize, double scale, AreaTab[] tab, int[] ofs)
    {
        int k = 0;
        for (int dx = 0; dx < dsize; dx++)
        {
            ofs[dx] = k;
            double fsx1 = dx * scale;
            double fsx2 = fsx1 + scale;
            double cellWidth = Math.Min(scale, ssize - fsx1);
            int sx1 = (int)Math.Ceiling(fsx1), sx2 = (int)Math.Floor(fsx2);
            sx2 = Math.Min(sx2, ssize - 1);
            sx1 = Math.Min(sx1, sx2);
            if (sx1 - fsx1 > 1e-3) tab[k++] = new AreaTab(sx1 - 1, (float)((sx1 - fsx1) / cellWidth));
            for (int sx = sx1; sx < sx2; sx++) tab[k++] = new AreaTab(sx, (float)(1.0 / cellWidth));
            if (fsx2 - sx2 > 1e-3) tab[k++] = new AreaTab(sx2, (float)(Math.Min(Math.Min(fsx2 - sx2, 1.0), cellWidth) / cellWidth));
        }
        ofs[dsize] = k;
    }

    // cvRound on a double: nearest, ties to even (what saturate_cast<int>(double) does).
    private static int CvRound(double v) => (int)Math.Round(v, MidpointRounding.ToEven);

    private static void Ensure<T>(ref T[] array, int length)
    {
        if (array.Length < length) array = new T[length];
    }

    private readonly record struct AreaTab(int Source, float Alpha);
}
