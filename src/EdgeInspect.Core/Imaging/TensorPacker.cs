using EdgeInspect.Core.Packages;

namespace EdgeInspect.Core.Imaging;

/// <summary>Memory order of a network's image input.</summary>
public enum TensorLayout
{
    /// <summary>[N, H, W, C] (TensorFlow / Keras).</summary>
    Nhwc,
    /// <summary>[N, W, H, C]: channels last with width and height swapped, as the original Caffe MTCNN models (Zhang et al. 2016) were exported.</summary>
    Nwhc,
    /// <summary>[N, C, H, W] (PyTorch).</summary>
    Nchw,
}

/// <summary>
/// Turns BGR pixels into one sample of a network input tensor as an <see cref="InputSpec"/> says:
/// layout (incl. the W/H swap), channel order, value = (pixel - mean[c]) * scale. Built once per network;
/// packing allocates nothing.
/// </summary>
public sealed class TensorPacker
{
    private readonly int[] _sourceChannel; // for each tensor channel, the BGR source channel
    private readonly float[] _mean;

    public TensorPacker(InputSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        Layout = spec.Layout.ToUpperInvariant() switch
        {
            "NHWC" => TensorLayout.Nhwc,
            "NWHC" => TensorLayout.Nwhc,
            "NCHW" => TensorLayout.Nchw,
            _ => throw new ArgumentException($"input.layout: unknown layout '{spec.Layout}' (NHWC, NWHC or NCHW)"),
        };
        _sourceChannel = spec.Channels.ToUpperInvariant() switch
        {
            "RGB" => [2, 1, 0],
            "BGR" => [0, 1, 2],
            "GRAY" => [-1],
            _ => throw new ArgumentException($"input.channels: unknown channel order '{spec.Channels}' (RGB, BGR or GRAY)"),
        };
        Channels = _sourceChannel.Length;
        if (spec.Mean is null || (spec.Mean.Length != 1 && spec.Mean.Length != Channels))
            throw new ArgumentException($"input.mean: needs 1 or {Channels} values");
        _mean = new float[Channels];
        for (int c = 0; c < Channels; c++) _mean[c] = spec.Mean.Length == 1 ? spec.Mean[0] : spec.Mean[c];
        Scale = spec.Scale;
        Width = spec.Width;
        Height = spec.Height;
        // 8-bit input has 256 possible values per channel: normalise through a table, computed with the same
        // (pixel - mean) * scale arithmetic as the slow path so results are bit-identical.
        _lut = new float[Channels * 256];
        for (int c = 0; c < Channels; c++)
        {
            for (int v = 0; v < 256; v++) _lut[(c * 256) + v] = (v - _mean[c]) * Scale;
        }
    }

    private readonly float[] _lut;

    public TensorLayout Layout { get; }
    public int Channels { get; }
    public float Scale { get; }
    /// <summary>Fixed input size from the spec (0 when the network is fully convolutional).</summary>
    public int Width { get; }
    public int Height { get; }

    /// <summary>The tensor shape for <paramref name="batch"/> images of width x height in this layout.</summary>
    public void ShapeFor(int batch, int width, int height, Span<long> shape)
    {
        shape[0] = batch;
        switch (Layout)
        {
            case TensorLayout.Nhwc: shape[1] = height; shape[2] = width; shape[3] = Channels; break;
            case TensorLayout.Nwhc: shape[1] = width; shape[2] = height; shape[3] = Channels; break;
            default: shape[1] = Channels; shape[2] = height; shape[3] = width; break;
        }
    }

    /// <summary>Packs 8-bit BGR (HWC, tightly packed) as sample <paramref name="index"/> of <paramref name="tensor"/>.</summary>
    public void Pack(ReadOnlySpan<byte> bgr, int width, int height, Span<float> tensor, int index) => PackRows(bgr, width, height, tensor, index, 0, height);

    /// <summary>
    /// Packs only image rows [<paramref name="y0"/>, <paramref name="y1"/>) of sample <paramref name="index"/>;
    /// disjoint row ranges touch disjoint tensor elements, so they may be packed concurrently.
    /// </summary>
    public void PackRows(ReadOnlySpan<byte> bgr, int width, int height, Span<float> tensor, int index, int y0, int y1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(y0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(y1, height);
        int plane = width * height;
        var dst = tensor.Slice(index * plane * Channels, plane * Channels);
        if (Channels == 3)
        {
            PackColour(bgr, width, height, dst, y0, y1);
            return;
        }
        PackGeneral(bgr, width, height, dst, y0, y1);
    }

    /// <summary>Packs float BGR (HWC, tightly packed) as sample <paramref name="index"/> of <paramref name="tensor"/>.</summary>
    public void Pack(ReadOnlySpan<float> bgr, int width, int height, Span<float> tensor, int index)
    {
        int plane = width * height;
        var dst = tensor.Slice(index * plane * Channels, plane * Channels);
        if (Channels == 3 && _sourceChannel[0] >= 0 && _sourceChannel[1] >= 0 && _sourceChannel[2] >= 0)
        {
            PackColour(bgr, width, height, dst);
            return;
        }
        PackGeneral(bgr, width, height, dst, 0, height);
    }

    /// <summary>Any channel mapping (grey, one or two channels): per-element layout arithmetic, off the hot path.</summary>
    private void PackGeneral<T>(ReadOnlySpan<T> bgr, int width, int height, Span<float> dst, int y0, int y1)
        where T : unmanaged, System.Numerics.INumberBase<T>
    {
        for (int y = y0; y < y1; y++)
        {
            var row = bgr.Slice(y * width * 3, width * 3);
            for (int x = 0; x < width; x++)
            {
                int p = x * 3;
                for (int c = 0; c < Channels; c++)
                {
                    int s = _sourceChannel[c];
                    float v = s < 0
                        ? Gray(float.CreateTruncating(row[p]), float.CreateTruncating(row[p + 1]), float.CreateTruncating(row[p + 2]))
                        : float.CreateTruncating(row[p + s]);
                    dst[Offset(x, y, c, width, height)] = (v - _mean[c]) * Scale;
                }
            }
        }
    }

    /// <summary>
    /// The hot path (pyramid levels, a few rows per call as they finish): table lookups, strides hoisted, pointers
    /// instead of bounds-checked spans (sizes are checked once by the caller's slices).
    /// </summary>
    private unsafe void PackColour(ReadOnlySpan<byte> bgr, int width, int height, Span<float> dst, int y0, int y1)
    {
        if (bgr.Length < width * height * 3 || dst.Length < width * height * 3) throw new ArgumentException("image or tensor smaller than width x height x 3");
        // offset(x, y, c) = x * sx + y * sy + c * sc for every layout.
        (int sx, int sy, int sc) = Layout switch
        {
            TensorLayout.Nhwc => (3, width * 3, 1),
            TensorLayout.Nwhc => (height * 3, 3, 1),
            _ => (1, width, width * height),
        };
        int c0 = _sourceChannel[0], c1 = _sourceChannel[1], c2 = _sourceChannel[2];
        fixed (byte* src = bgr)
        fixed (float* d = dst)
        fixed (float* lut = _lut)
        {
            float* l0 = lut, l1 = lut + 256, l2 = lut + 512;
            if (Layout == TensorLayout.Nwhc)
            {
                // Column by column: the rows of one column are contiguous in the tensor, so a few rows at once are
                // written as one run instead of one cache line per value.
                int rowBytes = width * 3;
                for (int x = 0; x < width; x++)
                {
                    byte* p = src + (y0 * rowBytes) + (x * 3);
                    float* o = d + (x * sx) + (y0 * 3);
                    for (int y = y0; y < y1; y++, p += rowBytes, o += 3)
                    {
                        o[0] = l0[p[c0]];
                        o[1] = l1[p[c1]];
                        o[2] = l2[p[c2]];
                    }
                }
                return;
            }
            for (int y = y0; y < y1; y++)
            {
                byte* p = src + (y * width * 3);
                float* o = d + (y * sy);
                for (int x = 0; x < width; x++, p += 3, o += sx)
                {
                    o[0] = l0[p[c0]];
                    o[sc] = l1[p[c1]];
                    o[2 * sc] = l2[p[c2]];
                }
            }
        }
    }

    /// <summary>
    /// The hot path of the refine stages (one crop per candidate, every frame): the same arithmetic as the general
    /// loop, so results are bit-identical, walked in the tensor's order (writes sequential, reads from the small
    /// patch in cache), with pointers instead of bounds-checked spans.
    /// </summary>
    private unsafe void PackColour(ReadOnlySpan<float> bgr, int width, int height, Span<float> dst)
    {
        if (bgr.Length < width * height * 3 || dst.Length < width * height * 3) throw new ArgumentException("patch or tensor smaller than width x height x 3");
        int c0 = _sourceChannel[0], c1 = _sourceChannel[1], c2 = _sourceChannel[2];
        float m0 = _mean[0], m1 = _mean[1], m2 = _mean[2], k = Scale;
        int rowFloats = width * 3;
        fixed (float* src = bgr)
        fixed (float* d = dst)
        {
            float* o = d;
            switch (Layout)
            {
                case TensorLayout.Nwhc: // [x][y][c]
                    for (int x = 0; x < width; x++)
                    {
                        float* p = src + (x * 3);
                        for (int y = 0; y < height; y++, p += rowFloats, o += 3)
                        {
                            o[0] = (p[c0] - m0) * k;
                            o[1] = (p[c1] - m1) * k;
                            o[2] = (p[c2] - m2) * k;
                        }
                    }
                    break;
                case TensorLayout.Nhwc: // [y][x][c]
                    for (int i = 0; i < width * height; i++, o += 3)
                    {
                        float* p = src + (i * 3);
                        o[0] = (p[c0] - m0) * k;
                        o[1] = (p[c1] - m1) * k;
                        o[2] = (p[c2] - m2) * k;
                    }
                    break;
                default: // [c][y][x]
                    int plane = width * height;
                    for (int i = 0; i < plane; i++)
                    {
                        float* p = src + (i * 3);
                        o[i] = (p[c0] - m0) * k;
                        o[plane + i] = (p[c1] - m1) * k;
                        o[(2 * plane) + i] = (p[c2] - m2) * k;
                    }
                    break;
            }
        }
    }

    /// <summary>Offset of (x, y, c) inside one sample.</summary>
    public int Offset(int x, int y, int c, int width, int height) => Layout switch
    {
        TensorLayout.Nhwc => (((y * width) + x) * Channels) + c,
        TensorLayout.Nwhc => (((x * height) + y) * Channels) + c,
        _ => (((c * height) + y) * width) + x,
    };

    // ITU-R BT.601 luma, the weights OpenCV's BGR2GRAY uses.
    private static float Gray(float b, float g, float r) => (0.114f * b) + (0.587f * g) + (0.299f * r);
}
