using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using EdgeInspect.Core.Imaging;

namespace EdgeInspect.Imaging.OpenCv;

/// <summary>
/// Every level of an image pyramid, each an INTER_AREA downscale of the full source (OpenCV's kernel bit for bit,
/// see <see cref="AreaDownscaler"/>), in one streaming pass over the source.
/// <para>
/// Why streaming: resized level by level, or with every level's horizontal sums kept for a later vertical pass,
/// a 561 x 561 photo moves about 8 MB of float sums through memory per frame, more than the caches hold, and the
/// stage becomes memory-bound. Here the source goes by in blocks of <see cref="AreaDownscaler.Lanes"/> rows
/// (staged once, transposed so one SIMD lane is one row); each level takes the block's horizontal sums while the
/// block is in cache and folds them straight into the output row it is summing. An output row is finished as
/// soon as its last source row has gone by, saturated to bytes and handed to the sink, so the caller packs it
/// into its tensor while the rows are still in cache.
/// </para>
/// <para>
/// OpenCV's summation order is kept exactly: OpenCV's vertical table is a sequence of (source row, weight)
/// entries, row after row, and its source rows never decrease, so taking the entries in order as the source rows
/// stream by gives every output row <c>sum = w0 * buf0</c>, then <c>sum += wj * bufj</c> in source order, as
/// OpenCV computes it.
/// </para>
/// <para>
/// Work is split into <see cref="Parts"/> bands of source rows, one per worker: a part owns, in every level, the
/// output rows whose first source row lies in its band, and reads past its band's end for the rows that straddle
/// it (a few blocks, staged twice). Parts write disjoint output rows, so they run concurrently.
/// </para>
/// </summary>
public sealed class AreaPyramid
{
    private const int Channels = AreaDownscaler.Channels;
    private static readonly int Lanes = AreaDownscaler.Lanes;
    private const int RowsPerReport = 4;
    private readonly List<AreaPlan> _plans = [];
    private ImageBuffer[] _levels = [];
    private int[] _sinkLevel = [];
    private int _levelCount;
    private Part[] _parts = [];
    private ImageBuffer? _source;
    private IResizeSink? _sink;

    /// <summary>Bands of source rows the current pyramid is cut into (<see cref="RunPart"/>'s range).</summary>
    public int Parts { get; private set; }

    /// <summary>True when the kernel covers source -> destination (else the caller resizes it another way).</summary>
    public static bool Handles(ImageBuffer source, ImageBuffer destination) =>
        AreaDownscaler.Handles(source.Width, source.Height, destination.Width, destination.Height);

    /// <summary>
    /// Plans the levels (every one must be <see cref="Handles"/>) and cuts the source into
    /// <paramref name="parts"/> bands. <paramref name="sinkLevels"/>[i] is the level number the sink hears for
    /// <paramref name="levels"/>[i]. Buffers grow here, never while parts run.
    /// </summary>
    public void Start(ImageBuffer source, ReadOnlySpan<ImageBuffer> levels, ReadOnlySpan<int> sinkLevels, IResizeSink? sink, int parts)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(parts);
        if (sinkLevels.Length != levels.Length) throw new ArgumentException("one sink level per level", nameof(sinkLevels));
        _source = source;
        _sink = sink;
        _levelCount = levels.Length;
        if (_levels.Length < levels.Length)
        {
            _levels = new ImageBuffer[levels.Length];
            _sinkLevel = new int[levels.Length];
        }
        int widestStride = 0;
        for (int l = 0; l < levels.Length; l++)
        {
            while (_plans.Count <= l) _plans.Add(new AreaPlan());
            _plans[l].Plan(source.Width, source.Height, levels[l].Width, levels[l].Height);
            _levels[l] = levels[l];
            _sinkLevel[l] = sinkLevels[l];
            widestStride = Math.Max(widestStride, _plans[l].RowStride);
        }

        // Bands of whole blocks; never more parts than blocks.
        int blocks = (source.Height + Lanes - 1) / Lanes;
        parts = Math.Min(parts, blocks);
        Parts = parts;
        if (_parts.Length < parts) Array.Resize(ref _parts, parts);
        for (int p = 0; p < parts; p++)
        {
            var part = _parts[p] ??= new Part();
            part.Reserve(source.Width * Channels, widestStride, levels.Length);
            int rowStart = blocks * p / parts * Lanes;
            int rowEnd = p == parts - 1 ? source.Height : blocks * (p + 1) / parts * Lanes;
            part.RowStart = rowStart;
            int lastRow = rowEnd - 1;
            for (int l = 0; l < levels.Length; l++)
            {
                var plan = _plans[l];
                var cursor = part.Cursors[l];
                // Output rows whose first source row is in [rowStart, rowEnd): a contiguous run, since first rows never decrease.
                int dy0 = FirstRowFrom(plan, rowStart), dy1 = FirstRowFrom(plan, rowEnd);
                cursor.Row = dy0;
                cursor.Reported = dy0;
                cursor.RowEnd = dy1;
                cursor.Entry = plan.FirstEntry(dy0);
                cursor.EntryEnd = plan.FirstEntry(dy1);
                AreaDownscaler.Ensure(ref cursor.Sum, plan.RowStride);
                if (dy1 > dy0) lastRow = Math.Max(lastRow, plan.EntrySource(cursor.EntryEnd - 1));
            }
            part.RowEnd = Math.Min(source.Height, lastRow + 1);
        }
    }

    /// <summary>The first output row whose first source row is at or after <paramref name="sourceRow"/> (Height when none).</summary>
    private static int FirstRowFrom(AreaPlan plan, int sourceRow)
    {
        int lo = 0, hi = plan.Height;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (plan.EntrySource(plan.FirstEntry(mid)) < sourceRow) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /// <summary>Runs one band: stages its blocks and finishes the output rows it owns in every level. Distinct parts may run concurrently.</summary>
    public void RunPart(int part, int worker)
    {
        var source = _source ?? throw new InvalidOperationException("Start first");
        var p = _parts[part];
        int srcValues = source.Width * Channels;
        var block = p.Block.AsSpan(0, srcValues);
        var blockFloats = MemoryMarshal.Cast<Vector<float>, float>(block);
        for (int r0 = p.RowStart; r0 < p.RowEnd; r0 += Lanes)
        {
            int r1 = Math.Min(r0 + Lanes, source.Height);
            bool staged = false;
            for (int l = 0; l < _levelCount; l++)
            {
                var cursor = p.Cursors[l];
                var plan = _plans[l];
                if (cursor.Entry >= cursor.EntryEnd || plan.EntrySource(cursor.Entry) >= r1) continue; // nothing of this level here
                if (!staged)
                {
                    Stage(source, r0, r1, block, blockFloats);
                    staged = true;
                }
                int stride = plan.RowStride;
                var sums = p.Sums.AsSpan(0, Lanes * stride);
                plan.HorizontalBlock(block, sums, p.Scratch);
                Consume(plan, cursor, sums, r0, r1, l, worker);
            }
        }
    }

    /// <summary>Folds the block's rows into the level's output rows, entry by entry, finishing each row at its last entry.</summary>
    private void Consume(AreaPlan plan, Cursor cursor, ReadOnlySpan<float> sums, int r0, int r1, int level, int worker)
    {
        int stride = plan.RowStride;
        int columns = plan.Width * Channels;
        int vectors = (columns + Lanes - 1) / Lanes;
        var acc = MemoryMarshal.Cast<float, Vector<float>>(cursor.Sum.AsSpan(0, vectors * Lanes));
        var rows = MemoryMarshal.Cast<float, Vector<float>>(sums);
        int vectorsPerRow = stride / Lanes;
        int rowFirst = plan.FirstEntry(cursor.Row);
        int rowNext = plan.FirstEntry(cursor.Row + 1);
        while (cursor.Entry < cursor.EntryEnd)
        {
            int j = cursor.Entry;
            int src = plan.EntrySource(j);
            if (src >= r1) break;
            AreaPlan.Accumulate(acc, plan.EntryWeight(j), rows.Slice((src - r0) * vectorsPerRow, vectors), first: j == rowFirst);
            cursor.Entry = j + 1;
            if (cursor.Entry == rowNext)
            {
                var image = _levels[level];
                int dy = cursor.Row;
                AreaPlan.SaturateToBytes(cursor.Sum.AsSpan(0, columns), image.Pixels.Slice(dy * columns, columns));
                cursor.Row = dy + 1;
                // Rows go to the sink a few at a time: a channels-last tensor with width and height swapped (the
                // canonical P-Net input) then takes each column's rows as one contiguous run, not one value per
                // cache line.
                if (cursor.Row - cursor.Reported >= RowsPerReport || cursor.Row == cursor.RowEnd)
                {
                    _sink?.RowsReady(_sinkLevel[level], cursor.Reported, cursor.Row, worker);
                    cursor.Reported = cursor.Row;
                }
                if (cursor.Row == cursor.RowEnd) break;
                rowFirst = rowNext;
                rowNext = plan.FirstEntry(cursor.Row + 1);
            }
        }
    }

    /// <summary>Source rows [r0, r1) as one float vector per value (lane = row); lanes past the last row are zero.</summary>
    private static void Stage(ImageBuffer source, int r0, int r1, Span<Vector<float>> block, Span<float> floats)
    {
        int rowBytes = source.Width * Channels;
        var pixels = source.Pixels;
        if (r1 - r0 == Lanes && BlockTransposer.Supported)
        {
            BlockTransposer.Transpose(pixels[(r0 * rowBytes)..], rowBytes, rowBytes, MemoryMarshal.Cast<Vector<float>, Vector256<float>>(block), 0, 1, floats, 0, Lanes);
            return;
        }
        int rows = r1 - r0;
        for (int i = 0; i < rowBytes; i++)
        {
            int o = i * Lanes;
            int s = (r0 * rowBytes) + i;
            for (int r = 0; r < rows; r++, s += rowBytes) floats[o + r] = pixels[s];
            for (int r = rows; r < Lanes; r++) floats[o + r] = 0;
        }
    }

    /// <summary>Lets go of the frame and the sink (nothing is held between calls).</summary>
    public void Finish()
    {
        Array.Clear(_levels);
        _source = null;
        _sink = null;
    }

    /// <summary>One band's scratch: its staged block, one level's horizontal sums of it, and a cursor per level.</summary>
    private sealed class Part
    {
        public Vector<float>[] Block = [];
        public float[] Sums = [];
        public AreaScratch Scratch { get; } = new();
        public Cursor[] Cursors = [];
        public int RowStart, RowEnd;

        public void Reserve(int sourceValues, int rowStride, int levels)
        {
            AreaDownscaler.Ensure(ref Block, sourceValues);
            AreaDownscaler.Ensure(ref Sums, Lanes * rowStride);
            if (Cursors.Length < levels)
            {
                int old = Cursors.Length;
                Array.Resize(ref Cursors, Math.Max(levels, old * 2));
                for (int i = old; i < Cursors.Length; i++) Cursors[i] = new Cursor();
            }
        }
    }

    /// <summary>Where one part stands in one level: the output row being summed, its running sum, the next table entry.</summary>
    private sealed class Cursor
    {
        public float[] Sum = [];
        public int Row, RowEnd, Entry, EntryEnd;
        public int Reported; // rows before this one have gone to the sink
    }
}
