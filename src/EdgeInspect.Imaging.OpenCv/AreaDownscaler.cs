using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace EdgeInspect.Imaging.OpenCv;

/// <summary>
/// OpenCV's INTER_AREA downscale (the general, non-integer-ratio path: <c>computeResizeAreaTab</c> and
/// <c>ResizeArea_Invoker</c> in imgproc/src/resize.cpp) reproduced bit for bit, but vectorised across source rows.
/// <para>
/// Why it exists: the cascade resizes the full frame once per pyramid level (the reference does, and its results
/// depend on it), and OpenCV runs that path as a scalar loop on one core, which makes it most of the P-Net
/// stage's own overhead on the fixture photos (docs/design/cascade.md). The arithmetic here is OpenCV's, in OpenCV's order: per source row the
/// horizontal sums <c>buf = ((0 + s0 * a0) + s1 * a1) + ...</c> in float, then per output row
/// <c>sum = (beta0 * buf0) + beta1 * buf1 + ...</c>, rounded half to even and saturated. Only the loop nest differs:
/// the source is staged transposed (each column's rows contiguous), so one SIMD lane per source row computes the
/// horizontal sums of <see cref="Vector{T}.Count"/> rows at once; the sums are then stored row-major so the
/// vertical pass runs one lane per output column. Each lane performs exactly the scalar operation
/// sequence (no fused multiply-add: .NET never contracts a * b + c), so the result equals OpenCV's; the tests
/// compare the two on random images of many sizes.
/// </para>
/// <para>One file on purpose: the table building, staging and both passes must keep OpenCV's exact operation order
/// together to stay bit-exact; <see cref="AreaPyramid"/> shares the tables and the horizontal kernel.</para>
/// <para>
/// This class resizes one staged rectangle (a crop: float out, as the reference crops); a pyramid of 8-bit levels
/// goes through <see cref="AreaPyramid"/>, which uses the same tables and horizontal kernel (<see cref="AreaPlan"/>).
/// </para>
/// <para>
/// Everything else (upscaling, integer ratios, which OpenCV sends to other kernels) is left to OpenCV:
/// <see cref="Handles"/> says which sizes this covers. Three interleaved channels. Not thread-safe; buffers grow to
/// the largest source and are reused, so a warm call allocates nothing.
/// </para>
/// </summary>
public sealed class AreaDownscaler
{
    internal const int Channels = 3;
    internal static readonly int Lanes = Vector<float>.Count;
    private const double DblEpsilon = 2.220446049250313e-16; // C's DBL_EPSILON, which OpenCV compares against

    /// <summary>
    /// Tests set this to run the portable <see cref="Vector{T}"/> paths on a machine with AVX2 (the paths an ARM
    /// device takes), so both are held to OpenCV's numbers here.
    /// </summary>
    internal static bool PortableOnly { get; set; }

    private readonly AreaPlan _plan = new();
    private readonly AreaScratch _scratch = new();

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

    /// <summary>Sizes every buffer for resizes up to srcWidth x srcHeight -> dstWidth x dstHeight now.</summary>
    public void Reserve(int srcWidth, int srcHeight, int dstWidth, int dstHeight)
    {
        _plan.Reserve(srcWidth, srcHeight, dstWidth, dstHeight);
        _scratch.Reserve(dstWidth);
    }

    /// <summary>Resizes the staged source to dstWidth x dstHeight, float BGR out (HWC), as cv::resize INTER_AREA on CV_32FC3.</summary>
    public void ResizeTo(AreaSource source, int dstWidth, int dstHeight, Span<float> destination)
    {
        _plan.Plan(source, dstWidth, dstHeight);
        _plan.Run(source, _scratch, destination);
    }

    // cvRound on a double: nearest, ties to even (what saturate_cast<int>(double) does).
    private static int CvRound(double v) => (int)Math.Round(v, MidpointRounding.ToEven);

    /// <summary>Grows geometrically: crop sizes creep up frame by frame, and each exact-size growth would allocate again.</summary>
    internal static void Ensure<T>(ref T[] array, int length)
    {
        if (array.Length < length) array = new T[Math.Max(length, array.Length * 2)];
    }
}

/// <summary>One worker's scratch for <see cref="AreaPlan"/>'s passes.</summary>
public sealed class AreaScratch
{
    /// <summary>Sizes the scratch for outputs up to <paramref name="dstWidth"/> wide now (see <see cref="AreaPlan.Reserve"/>).</summary>
    public void Reserve(int dstWidth)
    {
        AreaDownscaler.Ensure(ref Row, AreaPlan.RowStrideFor(dstWidth));
        AreaDownscaler.Ensure(ref Lanes, AreaDownscaler.Lanes * AreaDownscaler.Channels);
        AreaDownscaler.Ensure(ref Tile, 24);
    }

    internal float[] Row = [];    // one output row being summed
    internal float[] Lanes = [];  // one block's horizontal sums, lane by lane
    internal Vector256<float>[] Tile = []; // 8 output columns' sums before their transpose (AVX pass)
}

/// <summary>
/// One resize (a source size to a destination size): OpenCV's tables and the horizontal sums.
/// <see cref="Run(AreaSource, AreaScratch, Span{float})"/> does a whole resize (a crop) from a staged
/// <see cref="AreaSource"/>; <see cref="AreaPyramid"/> uses the tables and <see cref="HorizontalBlock"/> alone to
/// stream many levels through one pass over the source.
/// </summary>
public sealed class AreaPlan
{
    private const int Channels = AreaDownscaler.Channels;
    private static readonly int Lanes = AreaDownscaler.Lanes;
    private AreaTab[] _xtab = [];
    private AreaTab[] _ytab = [];
    private int[] _xofs = [];     // first xtab entry of each output column (entries of one column are consecutive)
    private int[] _yofs = [];     // first ytab entry of each output row
    private float[] _sums = [];   // horizontal sums, row-major: [y * _rowStride + dx * 3 + c]
    private int _rowStride;
    private (int Source, int Destination) _xSizes, _ySizes; // what the tables were computed for

    public int Width { get; private set; }
    public int Height { get; private set; }

    /// <summary>Builds the tables for resizing <paramref name="source"/> to dstWidth x dstHeight (O(width + height), no pixel work).</summary>
    public void Plan(AreaSource source, int dstWidth, int dstHeight)
    {
        if (source.Stride == 0) throw new InvalidOperationException("nothing staged");
        Plan(source.Width, source.Height, dstWidth, dstHeight);
        AreaDownscaler.Ensure(ref _sums, source.Stride * _rowStride);
    }

    /// <summary>
    /// The tables alone, for a source of srcWidth x srcHeight: enough for <see cref="HorizontalBlock"/> and the
    /// row-entry accessors a streaming pyramid (<see cref="AreaPyramid"/>) uses; <see cref="Run(AreaSource, AreaScratch, Span{float})"/> needs the other overload.
    /// </summary>
    public void Plan(int srcWidth, int srcHeight, int dstWidth, int dstHeight)
    {
        if (!AreaDownscaler.Handles(srcWidth, srcHeight, dstWidth, dstHeight))
            throw new ArgumentException($"{srcWidth}x{srcHeight} -> {dstWidth}x{dstHeight} is not a general INTER_AREA downscale");
        Width = dstWidth;
        Height = dstHeight;
        double scaleX = 1.0 / ((double)dstWidth / srcWidth), scaleY = 1.0 / ((double)dstHeight / srcHeight);
        // A pyramid plans the same sizes every frame and crops often repeat a size: each axis' table is kept until
        // its sizes change (a table depends on nothing else).
        if ((srcWidth, dstWidth) != _xSizes)
        {
            AreaDownscaler.Ensure(ref _xtab, srcWidth * 2);
            AreaDownscaler.Ensure(ref _xofs, dstWidth + 1);
            ComputeTab(srcWidth, dstWidth, scaleX, _xtab, _xofs);
            _xSizes = (srcWidth, dstWidth);
        }
        if ((srcHeight, dstHeight) != _ySizes)
        {
            AreaDownscaler.Ensure(ref _ytab, srcHeight * 2);
            AreaDownscaler.Ensure(ref _yofs, dstHeight + 1);
            ComputeTab(srcHeight, dstHeight, scaleY, _ytab, _yofs);
            _ySizes = (srcHeight, dstHeight);
        }
        // Rounded up to whole 24-value tiles (the AVX pass writes whole tiles) and padded by a vector so the last
        // column range's vector loads stay inside the buffer; a multiple of 8, so rows start on a vector.
        _rowStride = RowStrideFor(dstWidth);
    }

    /// <summary>Floats from one row of horizontal sums to the next (<see cref="HorizontalBlock"/>'s output).</summary>
    internal int RowStride => _rowStride;

    /// <summary>
    /// The vertical table as one sequence of (source row, weight) entries: output row dy owns entries
    /// [<see cref="FirstEntry"/>(dy), FirstEntry(dy + 1)), in source order, and the source rows never decrease along
    /// the whole sequence, so consuming it in order while source rows stream by reproduces OpenCV's summation order.
    /// </summary>
    internal int FirstEntry(int dy) => _yofs[dy];

    internal int EntrySource(int entry) => _ytab[entry].Source;

    internal float EntryWeight(int entry) => _ytab[entry].Alpha;

    internal static int RowStrideFor(int dstWidth) => (((dstWidth * Channels) + 23) / 24 * 24) + Lanes;

    /// <summary>
    /// Sizes every buffer for resizes up to srcWidth x srcHeight -> dstWidth x dstHeight now, so a later, bigger
    /// plan does not allocate on the frame path (which worker meets the biggest crop first varies run to run).
    /// </summary>
    public void Reserve(int srcWidth, int srcHeight, int dstWidth, int dstHeight)
    {
        // Growing replaces a table's arrays (contents not kept): plan that axis again next time.
        if (_xtab.Length < srcWidth * 2 || _xofs.Length < dstWidth + 1) _xSizes = default;
        if (_ytab.Length < srcHeight * 2 || _yofs.Length < dstHeight + 1) _ySizes = default;
        AreaDownscaler.Ensure(ref _xtab, srcWidth * 2);
        AreaDownscaler.Ensure(ref _ytab, srcHeight * 2);
        AreaDownscaler.Ensure(ref _xofs, dstWidth + 1);
        AreaDownscaler.Ensure(ref _yofs, dstHeight + 1);
        AreaDownscaler.Ensure(ref _sums, AreaSource.StrideFor(srcHeight) * RowStrideFor(dstWidth));
    }

    /// <summary>saturate_cast&lt;uchar&gt;(float) on a row: cvRound (nearest, ties to even), then clamp to 0..255.</summary>
    internal static void SaturateToBytes(ReadOnlySpan<float> row, Span<byte> dst)
    {
        int i = 0;
        int n = Vector<byte>.Count; // four float vectors narrow to one byte vector
        if (Vector.IsHardwareAccelerated)
        {
            var max = new Vector<int>(255);
            for (; i <= dst.Length - n; i += n)
            {
                var a = Vector.ClampNative(Vector.ConvertToInt32Native(Vector.Round(new Vector<float>(row[i..]))), Vector<int>.Zero, max);
                var b = Vector.ClampNative(Vector.ConvertToInt32Native(Vector.Round(new Vector<float>(row[(i + Lanes)..]))), Vector<int>.Zero, max);
                var c = Vector.ClampNative(Vector.ConvertToInt32Native(Vector.Round(new Vector<float>(row[(i + (2 * Lanes))..]))), Vector<int>.Zero, max);
                var d = Vector.ClampNative(Vector.ConvertToInt32Native(Vector.Round(new Vector<float>(row[(i + (3 * Lanes))..]))), Vector<int>.Zero, max);
                var lo = Vector.Narrow(Vector.AsVectorUInt32(a), Vector.AsVectorUInt32(b));
                var hi = Vector.Narrow(Vector.AsVectorUInt32(c), Vector.AsVectorUInt32(d));
                Vector.Narrow(lo, hi).CopyTo(dst[i..]);
            }
        }
        for (; i < dst.Length; i++) dst[i] = (byte)Math.Clamp((int)MathF.Round(row[i]), 0, 255);
    }

    /// <summary>The whole planned resize, float BGR (HWC).</summary>
    public void Run(AreaSource source, AreaScratch scratch, Span<float> destination)
    {
        Horizontal(source, scratch);
        int columns = Width * Channels;
        if (destination.Length < columns * Height) throw new ArgumentException("destination is too small");
        for (int dy = 0; dy < Height; dy++)
        {
            VerticalRow(dy, source.Height, scratch).CopyTo(destination.Slice(dy * columns, columns));
        }
    }

    /// <summary>One output row from every row's horizontal sums (see <see cref="Accumulate"/>). Returns the row (scratch-owned).</summary>
    private ReadOnlySpan<float> VerticalRow(int dy, int sourceHeight, AreaScratch scratch)
    {
        int columns = Width * Channels;
        int count = (columns + Lanes - 1) / Lanes;
        int vectorsPerRow = _rowStride / Lanes;
        AreaDownscaler.Ensure(ref scratch.Row, _rowStride);
        var sums = MemoryMarshal.Cast<float, Vector<float>>(_sums.AsSpan(0, sourceHeight * _rowStride));
        var acc = MemoryMarshal.Cast<float, Vector<float>>(scratch.Row.AsSpan(0, count * Lanes));
        for (int j = _yofs[dy]; j < _yofs[dy + 1]; j++)
        {
            Accumulate(acc, _ytab[j].Alpha, sums.Slice(_ytab[j].Source * vectorsPerRow, count), first: j == _yofs[dy]);
        }
        return scratch.Row.AsSpan(0, columns);
    }

    /// <summary>
    /// One step of the vertical pass, in OpenCV's operation order: <c>sum = beta * buf</c> for an output row's first
    /// source row, <c>sum += beta * buf</c> for the others, one lane per output value. The crop resize and the
    /// streaming pyramid both sum through here.
    /// </summary>
    internal static void Accumulate(Span<Vector<float>> sum, float weight, ReadOnlySpan<Vector<float>> row, bool first)
    {
        var beta = new Vector<float>(weight);
        row = row[..sum.Length];
        if (first)
        {
            for (int v = 0; v < sum.Length; v++) sum[v] = beta * row[v];
        }
        else
        {
            for (int v = 0; v < sum.Length; v++) sum[v] += beta * row[v];
        }
    }

    /// <summary>
    /// The horizontal pass over every staged row block, every output column, one lane per source row; each lane's
    /// sums are then stored into its row of <see cref="_sums"/> (row-major, so the vertical pass runs one lane per
    /// output value).
    /// </summary>
    private void Horizontal(AreaSource source, AreaScratch scratch)
    {
        var staged = MemoryMarshal.Cast<float, Vector<float>>(source.Staged);
        int blocks = source.Stride / Lanes;
        var sums = _sums.AsSpan(0, source.Stride * _rowStride);
        for (int b = 0; b < blocks; b++)
        {
            HorizontalOneBlock(staged, blocks, b, sums.Slice(b * Lanes * _rowStride, Lanes * _rowStride), scratch);
        }
    }

    /// <summary>
    /// The horizontal sums of one block of <see cref="AreaDownscaler.Lanes"/> source rows, staged as one vector per
    /// source value (lane = row; see <see cref="AreaSource"/>), into <paramref name="sums"/>: those rows, row-major,
    /// <see cref="RowStride"/> apart. The streaming pyramid's inner step.
    /// </summary>
    internal void HorizontalBlock(ReadOnlySpan<Vector<float>> block, Span<float> sums, AreaScratch scratch) =>
        HorizontalOneBlock(block, 1, 0, sums[..(Lanes * _rowStride)], scratch);

    private void HorizontalOneBlock(ReadOnlySpan<Vector<float>> staged, int blocks, int b, Span<float> sums, AreaScratch scratch)
    {
        if (Avx.IsSupported && Lanes == 8 && !AreaDownscaler.PortableOnly)
        {
            HorizontalOneBlockAvx(staged, blocks, b, sums, scratch);
            return;
        }
        AreaDownscaler.Ensure(ref scratch.Lanes, Lanes * Channels);
        var lanes = scratch.Lanes.AsSpan(0, Lanes * Channels);
        var xtab = _xtab;
        for (int dx = 0; dx < Width; dx++)
        {
            HorizontalSums(staged, xtab, _xofs[dx], _xofs[dx + 1], b, blocks, out var s0, out var s1, out var s2);
            s0.CopyTo(lanes);
            s1.CopyTo(lanes[Lanes..]);
            s2.CopyTo(lanes[(2 * Lanes)..]);
            int o = dx * Channels;
            for (int l = 0; l < Lanes; l++, o += _rowStride)
            {
                sums[o] = lanes[l];
                sums[o + 1] = lanes[Lanes + l];
                sums[o + 2] = lanes[(2 * Lanes) + l];
            }
        }
    }

    /// <summary>
    /// The horizontal sums of one output column's three channels for 8 source rows (block <paramref name="b"/>):
    /// <c>t = buf + S * alpha</c> per entry, exactly OpenCV's cn == 3 loop, one lane per row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void HorizontalSums(ReadOnlySpan<Vector<float>> staged, AreaTab[] xtab, int k0, int k1, int b, int blocks,
        out Vector<float> s0, out Vector<float> s1, out Vector<float> s2)
    {
        s0 = Vector<float>.Zero;
        s1 = Vector<float>.Zero;
        s2 = Vector<float>.Zero;
        for (int k = k0; k < k1; k++)
        {
            var alpha = new Vector<float>(xtab[k].Alpha);
            int i = (xtab[k].Source * Channels * blocks) + b;
            s0 += staged[i] * alpha;
            s1 += staged[i + blocks] * alpha;
            s2 += staged[i + (2 * blocks)] * alpha;
        }
    }

    /// <summary>
    /// The same block on AVX: the sums of 8 output columns (24 values, 8 rows each) are gathered and turned
    /// row-major with three 8 x 8 register transposes instead of 192 scalar stores (measured 3x faster).
    /// </summary>
    private void HorizontalOneBlockAvx(ReadOnlySpan<Vector<float>> staged, int blocks, int b, Span<float> sums, AreaScratch scratch)
    {
        const int ChunkColumns = 8, ChunkValues = ChunkColumns * Channels; // 24 values: three 8 x 8 tiles
        AreaDownscaler.Ensure(ref scratch.Tile, ChunkValues);
        var tile = scratch.Tile.AsSpan(0, ChunkValues);
        var rows = MemoryMarshal.Cast<float, Vector256<float>>(sums);
        int vectorsPerRow = _rowStride / 8;
        var xtab = _xtab;
        for (int dx0 = 0; dx0 < Width; dx0 += ChunkColumns)
        {
            int n = Math.Min(ChunkColumns, Width - dx0);
            for (int j = 0; j < n; j++)
            {
                int dx = dx0 + j;
                HorizontalSums(staged, xtab, _xofs[dx], _xofs[dx + 1], b, blocks, out var s0, out var s1, out var s2);
                tile[(j * 3) + 0] = s0.AsVector256();
                tile[(j * 3) + 1] = s1.AsVector256();
                tile[(j * 3) + 2] = s2.AsVector256();
            }
            // Columns past the image (a last partial chunk) land in the row padding, never read as values.
            int rowVector = dx0 * Channels / 8;
            for (int g = 0; g < 3; g++)
            {
                Transpose8x8(tile.Slice(g * 8, 8), rows, rowVector + g, vectorsPerRow);
            }
        }
    }

    /// <summary>Writes the transpose of the 8 x 8 tile <paramref name="cols"/> (one vector per column) as 8 row vectors, <paramref name="step"/> vectors apart.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(ReadOnlySpan<Vector256<float>> cols, Span<Vector256<float>> rows, int first, int step)
    {
        var t0 = Avx.UnpackLow(cols[0], cols[1]);
        var t1 = Avx.UnpackHigh(cols[0], cols[1]);
        var t2 = Avx.UnpackLow(cols[2], cols[3]);
        var t3 = Avx.UnpackHigh(cols[2], cols[3]);
        var t4 = Avx.UnpackLow(cols[4], cols[5]);
        var t5 = Avx.UnpackHigh(cols[4], cols[5]);
        var t6 = Avx.UnpackLow(cols[6], cols[7]);
        var t7 = Avx.UnpackHigh(cols[6], cols[7]);
        var u0 = Avx.Shuffle(t0, t2, 0x44);
        var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44);
        var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44);
        var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44);
        var u7 = Avx.Shuffle(t5, t7, 0xEE);
        rows[first] = Avx.Permute2x128(u0, u4, 0x20);
        rows[first + step] = Avx.Permute2x128(u1, u5, 0x20);
        rows[first + (2 * step)] = Avx.Permute2x128(u2, u6, 0x20);
        rows[first + (3 * step)] = Avx.Permute2x128(u3, u7, 0x20);
        rows[first + (4 * step)] = Avx.Permute2x128(u0, u4, 0x31);
        rows[first + (5 * step)] = Avx.Permute2x128(u1, u5, 0x31);
        rows[first + (6 * step)] = Avx.Permute2x128(u2, u6, 0x31);
        rows[first + (7 * step)] = Avx.Permute2x128(u3, u7, 0x31);
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

    private readonly record struct AreaTab(int Source, float Alpha);
}

/// <summary>
/// The source of <see cref="AreaDownscaler"/> resizes: a rectangle of an 8-bit BGR image staged as float and
/// transposed (each column's rows contiguous, one SIMD lane per row). Staged once, it can be read by any number of
/// resizes (a crop is staged once and resized once).
/// </summary>
public sealed class AreaSource
{
    private float[] _staged = [];
    private int _imageWidth, _imageHeight, _x, _y;

    public int Width { get; private set; }
    public int Height { get; private set; }
    /// <summary>Floats between one column's first row and the next column's (rows rounded up to whole lanes).</summary>
    public int Stride { get; private set; }

    internal ReadOnlySpan<float> Staged => _staged.AsSpan(0, Width * AreaDownscaler.Channels * Stride);

    /// <summary>Stages the rectangle [x, x + width) x [y, y + height); pixels outside the image are zero (the reference's zero-padded crop).</summary>
    public void StageRegion(ReadOnlySpan<byte> bgr, int imageWidth, int imageHeight, int x, int y, int width, int height)
    {
        Begin(imageWidth, imageHeight, x, y, width, height);
        StageRows(bgr, 0, height);
    }

    /// <summary>Sets the rectangle and sizes the buffer (zeroing it when the rectangle reaches outside the image); then <see cref="StageRows"/> fills it.</summary>
    private void Begin(int imageWidth, int imageHeight, int x, int y, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        int lanes = AreaDownscaler.Lanes;
        (_imageWidth, _imageHeight, _x, _y, Width, Height) = (imageWidth, imageHeight, x, y, width, height);
        int stride = StrideFor(height);
        Stride = stride;
        AreaDownscaler.Ensure(ref _staged, width * AreaDownscaler.Channels * stride);
        // Outside pixels are zero. The lanes past the last row are never read back; they only ever hold earlier
        // pixel values or zero (finite, never denormal), so they need no clearing.
        if (x < 0 || y < 0 || x + width > imageWidth || y + height > imageHeight) _staged.AsSpan(0, width * AreaDownscaler.Channels * stride).Clear();
    }

    /// <summary>The column stride for <paramref name="height"/> rows: whole lanes, never a multiple of 8 lanes.</summary>
    internal static int StrideFor(int height)
    {
        int lanes = AreaDownscaler.Lanes;
        int stride = (height + lanes - 1) / lanes * lanes;
        // A power-of-two-ish column stride (a 512-row image: 2 KB) maps every column onto the same few L1 sets and the
        // horizontal pass thrashes (measured: 11 ms instead of 4 on a 512 x 512 pyramid); one extra block avoids it.
        if (stride % (8 * lanes) == 0) stride += lanes;
        return stride;
    }

    /// <summary>Sizes the buffer for rectangles up to width x height now (see <see cref="AreaPlan.Reserve"/>).</summary>
    public void Reserve(int width, int height) => AreaDownscaler.Ensure(ref _staged, width * AreaDownscaler.Channels * StrideFor(height));

    /// <summary>Fills rows [rowStart, rowEnd) of the rectangle.</summary>
    private void StageRows(ReadOnlySpan<byte> bgr, int rowStart, int rowEnd)
    {
        const int C = AreaDownscaler.Channels;
        int x0 = Math.Max(0, -_x), x1 = Math.Min(Width, _imageWidth - _x);   // rectangle columns inside the image
        int y0 = Math.Max(rowStart, -_y), y1 = Math.Min(rowEnd, _imageHeight - _y);
        if (x0 >= x1 || y0 >= y1) return;

        var staged = _staged.AsSpan(0, Width * C * Stride);
        int rowBytes = _imageWidth * C;
        int inside = (x1 - x0) * C;
        int first = ((_y + y0) * rowBytes) + ((_x + x0) * C);
        int lanes = AreaDownscaler.Lanes;
        // Whole lane blocks (rows py .. py + 7 with py on a lane boundary) go through 8 x 8 register transposes;
        // the rows before the first whole block and after the last are copied one by one.
        int blockStart = Math.Min(y1, (y0 + lanes - 1) / lanes * lanes);
        int blockEnd = Math.Max(blockStart, y1 / lanes * lanes);
        if (!BlockTransposer.Supported) blockStart = blockEnd = y1;
        StageScalar(bgr, staged, first, rowBytes, inside, x0, y0, blockStart);
        if (blockEnd > blockStart)
        {
            var vectors = MemoryMarshal.Cast<float, Vector256<float>>(staged);
            int step = Stride / 8;
            for (int py = blockStart; py < blockEnd; py += 8)
            {
                // Column (x0 * C + i) holds its rows at (x0 * C + i) * Stride; rows py .. py + 7 are one vector.
                BlockTransposer.Transpose(bgr[(first + ((py - y0) * rowBytes))..], rowBytes, inside, vectors, ((x0 * C) * step) + (py / 8), step, staged, (x0 * C * Stride) + py, Stride);
            }
        }
        StageScalar(bgr, staged, first + ((blockEnd - y0) * rowBytes), rowBytes, inside, x0, blockEnd, y1);
    }

    private void StageScalar(ReadOnlySpan<byte> bgr, Span<float> staged, int first, int rowBytes, int inside, int x0, int y0, int y1)
    {
        const int C = AreaDownscaler.Channels;
        // Transpose in bands of rows: each column's few values of the band are written side by side (one cache
        // line), while the band's rows are read sequentially; row by row, every write would land on a new line.
        const int Band = 16;
        for (int py0 = y0; py0 < y1; py0 += Band)
        {
            int rows = Math.Min(Band, y1 - py0);
            int bandStart = first + ((py0 - y0) * rowBytes);
            for (int i = 0; i < inside; i++)
            {
                var dst = staged.Slice((((x0 * C) + i) * Stride) + py0, rows);
                int s = bandStart + i;
                for (int r = 0; r < dst.Length; r++, s += rowBytes) dst[r] = bgr[s];
            }
        }
    }
}

/// <summary>
/// 8 rows of 8-bit values turned into one float vector per value (lane = row): 8 bytes of each row widened to
/// floats, then an 8 x 8 register transpose. Both <see cref="AreaSource"/> and <see cref="AreaPyramid"/> stage
/// their sources this way, because a scalar, bounds-checked staging loop costs about a third of the pyramid's time.
/// </summary>
internal static class BlockTransposer
{
    /// <summary>AVX2 with 8-lane vectors (x64 here); elsewhere the callers' scalar loops stage.</summary>
    public static bool Supported => Avx2.IsSupported && AreaDownscaler.Lanes == 8 && !AreaDownscaler.PortableOnly;

    /// <summary>
    /// Values [0, <paramref name="count"/>) of 8 rows starting at <paramref name="rows"/> (row r at r * rowBytes):
    /// value i's 8 rows go to vector <c>first + i * step</c> of <paramref name="vectors"/>; the last count % 8 values
    /// go to the same place through <paramref name="floats"/> (float <c>firstFloat + i * floatStep + r</c>).
    /// </summary>
    public static unsafe void Transpose(ReadOnlySpan<byte> rows, int rowBytes, int count, Span<Vector256<float>> vectors, int first, int step,
        Span<float> floats, int firstFloat, int floatStep)
    {
        if (count <= 0) return;
        if (rows.Length < (7 * rowBytes) + count) throw new ArgumentException("the 8 rows do not fit the source");
        int whole = count / 8 * 8;
        if (whole > 0 && first + ((whole - 1) * step) >= vectors.Length) throw new ArgumentException("the staged vectors do not fit");
        Span<Vector256<float>> cols = stackalloc Vector256<float>[8];
        fixed (byte* p = rows)
        {
            for (int i = 0; i < whole; i += 8)
            {
                byte* q = p + i;
                for (int r = 0; r < 8; r++) cols[r] = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(q + (r * rowBytes)));
                AreaPlan.Transpose8x8(cols, vectors, first + (i * step), step);
            }
        }
        for (int i = whole; i < count; i++)
        {
            int o = firstFloat + (i * floatStep);
            for (int r = 0; r < 8; r++) floats[o + r] = rows[i + (r * rowBytes)];
        }
    }
}
