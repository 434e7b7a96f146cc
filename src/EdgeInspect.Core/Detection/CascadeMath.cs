using EdgeInspect.Core.Packages;

namespace EdgeInspect.Core.Detection;

/// <summary>
/// The arithmetic of an MTCNN-style cascade (Zhang et al. 2016), written to match the reference implementation
/// ipazc/mtcnn 0.1.x (itself from davidsandberg/facenet's align/detect_face.py) number for number:
/// pyramid scales, cell-to-box mapping with fix(), NMS "Union"/"Min" with +1 areas, box regression,
/// squaring (rerec) and the zero-padded crop window (pad). Pure and allocation-free.
/// </summary>
public static class CascadeMath
{
    /// <summary>
    /// Pyramid scales as __compute_scale_pyramid: m = cell / minSize, scale_k = m * factor^k while
    /// min(width, height) * m * factor^k >= cell. Returns how many were written (capped by maxScales and the span).
    /// </summary>
    public static int Scales(PyramidSpec pyramid, int width, int height, Span<double> scales)
    {
        ArgumentNullException.ThrowIfNull(pyramid);
        double minSize = AsDecimalDouble(pyramid.MinSize);
        double factor = AsDecimalDouble(pyramid.ScaleFactor);
        double cell = pyramid.CellSize;
        if (minSize <= 0) throw new ArgumentException($"detector.pyramid.minSize must be > 0, got {minSize}");
        if (factor is <= 0 or >= 1) throw new ArgumentException($"detector.pyramid.scaleFactor must be in (0, 1), got {factor}");
        double m = cell / minSize;
        double minLayer = Math.Min(width, height) * m;
        int count = 0;
        int cap = pyramid.MaxScales > 0 ? Math.Min(pyramid.MaxScales, scales.Length) : scales.Length;
        while (minLayer >= cell && count < cap)
        {
            scales[count] = m * Math.Pow(factor, count);
            minLayer *= factor;
            count++;
        }
        return count;
    }

    /// <summary>
    /// The pyramid's levels: for every scale, every aspect a of <see cref="PyramidSpec.Aspects"/> (default [1]),
    /// scaled s / sqrt(a) across and s * sqrt(a) down; a level narrower or lower than a cell is left out. With
    /// aspect 1 a level's scales are exactly the scale (the reference pyramid). Returns how many were written.
    /// </summary>
    public static int Levels(PyramidSpec pyramid, int width, int height, ReadOnlySpan<double> scales, Span<double> scaleX, Span<double> scaleY)
    {
        ArgumentNullException.ThrowIfNull(pyramid);
        var aspects = pyramid.Aspects is { Length: > 0 } a ? a : One;
        int count = 0;
        foreach (double s in scales)
        {
            foreach (float aspect in aspects)
            {
                if (count == scaleX.Length || count == scaleY.Length) return count;
                double r = aspect == 1f ? 1.0 : Math.Sqrt(AsDecimalDouble(aspect));
                double sx = s / r, sy = s * r;
                if (ScaledSize(width, sx) < pyramid.CellSize || ScaledSize(height, sy) < pyramid.CellSize) continue;
                scaleX[count] = sx;
                scaleY[count] = sy;
                count++;
            }
        }
        return count;
    }

    private static readonly float[] One = [1f];

    /// <summary>Size of the image at a pyramid scale: ceil, as __scale_image.</summary>
    public static int ScaledSize(int size, double scale) => (int)Math.Ceiling(size * scale);

    /// <summary>
    /// The manifest stores floats; 0.709f widened is 0.70899999141693115, not numpy's 0.709. Going through the
    /// shortest decimal text gives the double the manifest author wrote, so ceil() of scaled sizes agrees.
    /// </summary>
    public static double AsDecimalDouble(float value)
    {
        Span<char> text = stackalloc char[32];
        return value.TryFormat(text, out int written, "R", System.Globalization.CultureInfo.InvariantCulture)
            && double.TryParse(text[..written], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d)
            ? d : value;
    }

    /// <summary>
    /// The box a first-stage output cell covers at <paramref name="scale"/>: x1 = fix((stride*cx + 1) / scale),
    /// x2 = fix((stride*cx + cell) / scale) (generate_bounding_box).
    /// </summary>
    public static Candidate CellBox(int cx, int cy, double scale, int stride, int cell, double score) =>
        CellBox(cx, cy, scale, scale, stride, cell, score);

    /// <summary>The same on a level scaled differently across (<paramref name="scaleX"/>) and down (<paramref name="scaleY"/>).</summary>
    public static Candidate CellBox(int cx, int cy, double scaleX, double scaleY, int stride, int cell, double score) => new(
        Math.Truncate(((stride * (double)cx) + 1) / scaleX),
        Math.Truncate(((stride * (double)cy) + 1) / scaleY),
        Math.Truncate(((stride * (double)cx) + cell) / scaleX),
        Math.Truncate(((stride * (double)cy) + cell) / scaleY),
        score);

    /// <summary>
    /// Greedy non-maximum suppression (__nms): repeatedly keep the highest score, drop every remaining box whose
    /// overlap is above <paramref name="threshold"/> (kept when overlap &lt;= threshold). Overlap is
    /// inter / union ("Union") or inter / min(area) ("Min"), with +1 inclusive-corner areas. Equal scores: the
    /// later candidate wins, as the last element of a stable ascending sort. Survivors are moved to the front in
    /// pick order (descending score); returns their count.
    /// </summary>
    public static int Nms(Span<Candidate> items, float threshold, NmsMode mode, NmsScratch? scratch = null)
    {
        int n = items.Length;
        if (n == 0) return 0;
        scratch ??= new NmsScratch();
        scratch.Ensure(n);
        var order = scratch.Order.AsSpan(0, n);
        for (int i = 0; i < n; i++) order[i] = new ScoreIndex(items[i].Score, i);
        order.Sort(); // ScoreIndex is IComparable: no boxed comparer, no allocation
        double thr = threshold;

        // The boxes in pick order (descending score) as flat arrays; after each pick the boxes it does not
        // suppress are moved up, so every later pick scans only boxes still alive (the reference's idx[where(o <=
        // threshold)]). Same arithmetic, same picks; a cluster of overlapping boxes is scanned once, not per pick.
        var x1 = scratch.X1.AsSpan(0, n);
        var y1 = scratch.Y1.AsSpan(0, n);
        var x2 = scratch.X2.AsSpan(0, n);
        var y2 = scratch.Y2.AsSpan(0, n);
        var area = scratch.Area.AsSpan(0, n);
        var index = scratch.Index.AsSpan(0, n);
        for (int k = 0; k < n; k++)
        {
            int i = order[n - 1 - k].Index;
            ref readonly var c = ref items[i];
            x1[k] = c.X1; y1[k] = c.Y1; x2[k] = c.X2; y2[k] = c.Y2;
            area[k] = (c.X2 - c.X1 + 1) * (c.Y2 - c.Y1 + 1);
            index[k] = i;
        }

        int kept = 0;
        var picks = scratch.Picks.AsSpan(0, n);
        int alive = n;
        bool min = mode == NmsMode.Min;
        while (alive > 0)
        {
            picks[kept++] = index[0];
            double ax1 = x1[0], ay1 = y1[0], ax2 = x2[0], ay2 = y2[0], areaA = area[0];
            int survivors = 0;
            for (int q = 1; q < alive; q++)
            {
                double w = Math.Max(0.0, Math.Min(ax2, x2[q]) - Math.Max(ax1, x1[q]) + 1);
                double h = Math.Max(0.0, Math.Min(ay2, y2[q]) - Math.Max(ay1, y1[q]) + 1);
                double inter = w * h;
                double areaB = area[q];
                double o = min ? inter / Math.Min(areaA, areaB) : inter / (areaA + areaB - inter);
                // numpy keeps where(o <= threshold); a NaN overlap is dropped there too.
                if (!(o <= thr)) continue;
                x1[survivors] = x1[q]; y1[survivors] = y1[q]; x2[survivors] = x2[q]; y2[survivors] = y2[q];
                area[survivors] = areaB;
                index[survivors] = index[q];
                survivors++;
            }
            alive = survivors;
        }

        // Gather survivors in pick order. Picks are distinct indices; permute through a small copy.
        var tmp = scratch.Gather.AsSpan(0, kept);
        for (int k = 0; k < kept; k++) tmp[k] = items[picks[k]];
        tmp.CopyTo(items);
        return kept;
    }

    /// <summary>
    /// Box regression: x1 += dx1 * w etc. The reference uses w = x2 - x1 after P-Net (stage 1) and
    /// w = x2 - x1 + 1 after R-Net and O-Net (__bbreg); <paramref name="inclusiveWidth"/> picks which.
    /// </summary>
    public static void Regress(ref Candidate c, bool inclusiveWidth)
    {
        double w = c.X2 - c.X1 + (inclusiveWidth ? 1 : 0);
        double h = c.Y2 - c.Y1 + (inclusiveWidth ? 1 : 0);
        double x1 = c.X1 + (c.Dx1 * w);
        double y1 = c.Y1 + (c.Dy1 * h);
        double x2 = c.X2 + (c.Dx2 * w);
        double y2 = c.Y2 + (c.Dy2 * h);
        c.X1 = x1; c.Y1 = y1; c.X2 = x2; c.Y2 = y2;
    }

    /// <summary>Square around the centre with the longer side (__rerec; sides measured as x2 - x1).</summary>
    public static void Square(ref Candidate c)
    {
        double h = c.Y2 - c.Y1;
        double w = c.X2 - c.X1;
        double l = Math.Max(w, h);
        c.X1 = c.X1 + (w * 0.5) - (l * 0.5);
        c.Y1 = c.Y1 + (h * 0.5) - (l * 0.5);
        c.X2 = c.X1 + l;
        c.Y2 = c.Y1 + l;
    }

    /// <summary>np.fix on the corners (truncation toward zero), done before boxes are cropped.</summary>
    public static void Truncate(ref Candidate c)
    {
        c.X1 = Math.Truncate(c.X1);
        c.Y1 = Math.Truncate(c.Y1);
        c.X2 = Math.Truncate(c.X2);
        c.Y2 = Math.Truncate(c.Y2);
    }

    /// <summary>
    /// The pixels a truncated box crops, as __pad computes them: a (x2-x1+1) x (y2-y1+1) patch whose column j is
    /// image column x1 - 1 + j (the reference's 1-based indexing carried over from MATLAB), zero where that
    /// falls outside the image.
    /// </summary>
    public static CropWindow CropOf(in Candidate c, int imageWidth, int imageHeight) => CropOf(c, imageWidth, imageHeight, 0);

    /// <summary>
    /// The same window grown on every side by <paramref name="margin"/> (the stage's input.cropMargin, through
    /// <see cref="AsDecimalDouble"/>) times its width or height, rounded half to even to whole pixels: the
    /// trainer's eitrain.data.stage_crop does the same arithmetic in double.
    /// </summary>
    public static CropWindow CropOf(in Candidate c, int imageWidth, int imageHeight, double margin)
    {
        int x1 = (int)c.X1, y1 = (int)c.Y1, x2 = (int)c.X2, y2 = (int)c.Y2;
        int w = x2 - x1 + 1, h = y2 - y1 + 1;
        int mx = margin > 0 && w > 0 ? (int)Math.Round(w * margin, MidpointRounding.ToEven) : 0;
        int my = margin > 0 && h > 0 ? (int)Math.Round(h * margin, MidpointRounding.ToEven) : 0;
        return new CropWindow(x1 - 1 - mx, y1 - 1 - my, w + (2 * mx), h + (2 * my), imageWidth, imageHeight);
    }
}

/// <summary>Reusable NMS work arrays (grow only), so a warm cascade allocates nothing.</summary>
public sealed class NmsScratch
{
    public ScoreIndex[] Order { get; private set; } = [];
    public int[] Picks { get; private set; } = [];
    public Candidate[] Gather { get; private set; } = [];
    // The boxes still alive, in pick order (structure of arrays: the overlap loop reads them sequentially).
    internal double[] X1 { get; private set; } = [];
    internal double[] Y1 { get; private set; } = [];
    internal double[] X2 { get; private set; } = [];
    internal double[] Y2 { get; private set; } = [];
    internal double[] Area { get; private set; } = [];
    internal int[] Index { get; private set; } = [];

    public void Ensure(int n)
    {
        if (Order.Length >= n) return;
        int cap = Math.Max(n, Order.Length * 2);
        Order = new ScoreIndex[cap];
        Picks = new int[cap];
        Gather = new Candidate[cap];
        X1 = new double[cap];
        Y1 = new double[cap];
        X2 = new double[cap];
        Y2 = new double[cap];
        Area = new double[cap];
        Index = new int[cap];
    }
}

/// <summary>
/// A score and the candidate index it belongs to (NMS sort key). Orders ascending by score, ties by index: the
/// order a stable ascending argsort gives, so NMS is deterministic on equal scores.
/// </summary>
public readonly record struct ScoreIndex(double Score, int Index) : IComparable<ScoreIndex>
{
    public int CompareTo(ScoreIndex other)
    {
        int c = Score.CompareTo(other.Score);
        return c != 0 ? c : Index.CompareTo(other.Index);
    }

    public static bool operator <(ScoreIndex left, ScoreIndex right) => left.CompareTo(right) < 0;
    public static bool operator >(ScoreIndex left, ScoreIndex right) => left.CompareTo(right) > 0;
    public static bool operator <=(ScoreIndex left, ScoreIndex right) => left.CompareTo(right) <= 0;
    public static bool operator >=(ScoreIndex left, ScoreIndex right) => left.CompareTo(right) >= 0;
}

/// <summary>
/// A crop rectangle that may extend past the image: [X, X + Width) x [Y, Y + Height) in image pixels, with the
/// part inside the image and where it lands in the patch. Everything outside is zero padding (as __pad's
/// dx/edx/dy/edy and x/ex/y/ey describe, but 0-based and exclusive).
/// </summary>
public readonly struct CropWindow
{
    public CropWindow(int x, int y, int width, int height, int imageWidth, int imageHeight)
    {
        X = x; Y = y; Width = width; Height = height;
        SourceX0 = Math.Clamp(x, 0, imageWidth);
        SourceY0 = Math.Clamp(y, 0, imageHeight);
        SourceX1 = Math.Clamp(x + width, 0, imageWidth);
        SourceY1 = Math.Clamp(y + height, 0, imageHeight);
        if (SourceX1 < SourceX0) SourceX1 = SourceX0;
        if (SourceY1 < SourceY0) SourceY1 = SourceY0;
    }

    public int X { get; }
    public int Y { get; }
    public int Width { get; }
    public int Height { get; }
    /// <summary>Inside-image part, image coordinates, end exclusive.</summary>
    public int SourceX0 { get; }
    public int SourceY0 { get; }
    public int SourceX1 { get; }
    public int SourceY1 { get; }
    /// <summary>Where the inside-image part starts in the patch.</summary>
    public int PatchX => SourceX0 - X;
    public int PatchY => SourceY0 - Y;
    public int CopyWidth => SourceX1 - SourceX0;
    public int CopyHeight => SourceY1 - SourceY0;
    public bool IsEmpty => Width <= 0 || Height <= 0;
}
