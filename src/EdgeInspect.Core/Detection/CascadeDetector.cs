using System.Diagnostics;
using EdgeInspect.Core.Concurrency;
using EdgeInspect.Core.Geometry;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Inference;
using EdgeInspect.Core.Packages;

namespace EdgeInspect.Core.Detection;

/// <summary>
/// A generic MTCNN-style cascade (Zhang et al. 2016), driven entirely by a <see cref="DetectorSpec"/>: the first
/// stage is fully convolutional and runs over an image pyramid; every later stage refines zero-padded crops of
/// the previous stage's boxes, batched a block at a time (<see cref="RefineBlockFloats"/>). Thresholds, NMS,
/// regression convention, squaring, landmarks and each network's input packing come from the spec; nothing here knows about faces.
/// Reproduces ipazc/mtcnn 0.1.x exactly when given <see cref="ModelPackage.CanonicalMtcnn"/>.
/// <para>
/// Network lanes: each stage may hold several copies of its network (<see cref="InferenceOptions.Lanes"/>), each
/// run by its own thread; the first stage's pyramid levels (largest first) and each later stage's batch (cut into
/// equal chunks) are spread over them. On a small CPU, copies with one thread each beat one copy with all cores:
/// ONNX Runtime wakes its pool for every operator of these small graphs, so two single-threaded runs side by side
/// get more work done than one run on two threads (figures in docs/benchmarks.md).
/// </para>
/// <para>One file on purpose: the stages share the pyramid, candidate and batch buffers and their reuse rules
/// (which buffer a stage may overwrite while the next reads it); split apart, those rules would span files.</para>
/// Not thread-safe; reusable, and allocation-free once warm (buffers grow to the largest frame seen).
/// </summary>
public sealed class CascadeDetector : IDisposable
{
    private const int MaxScales = 64;
    private readonly DetectorSpec _spec;
    private readonly IImageOps _ops;
    private readonly Stage[] _stages;
    private readonly bool _ownsRunners;
    private readonly double[] _scales = new double[MaxScales];
    private readonly double[] _levelScaleX = new double[MaxScales]; // per pyramid level (scale x aspect)
    private readonly double[] _levelScaleY = new double[MaxScales];
    private readonly ImageBuffer[] _levels = new ImageBuffer[MaxScales];
    private readonly LevelPacker _packLevels;
    private readonly CropPacker _packCrops;
    private readonly ParallelWorkers? _gang; // one thread per lane, when there is more than one lane
    private readonly LevelRuns _levelRuns;
    private readonly ChunkRuns _chunkRuns;
    private readonly CascadeResult _result;
    private readonly CandidateList _current = new(512);
    private readonly CandidateList _scaleBoxes = new(512);
    private readonly NmsScratch _nms = new();
    private readonly List<ScaleState> _scaleStates = [];
    private readonly long[] _shape = new long[4];
    private float[] _patches = [];
    private PixelRect[] _crops = [];
    private Landmark[] _landmarks = [];
    private int _landmarksPerBox;

    /// <summary>One network per stage (one lane).</summary>
    public CascadeDetector(DetectorSpec spec, IReadOnlyList<INetworkRunner> runners, IImageOps imageOps, bool ownsRunners = true)
        : this(spec, OneLane(runners), imageOps, ownsRunners)
    {
    }

    /// <summary>
    /// <paramref name="lanes"/>[stage] holds that stage's copies of its network, the same count for every stage
    /// (see <see cref="InferenceOptions.Lanes"/>); copy k of every stage is run by lane k's thread.
    /// </summary>
    public CascadeDetector(DetectorSpec spec, IReadOnlyList<IReadOnlyList<INetworkRunner>> lanes, IImageOps imageOps, bool ownsRunners)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(lanes);
        var runners = lanes.Select(l => l is { Count: > 0 } ? l[0] : throw new ArgumentException("every stage needs at least one network")).ToList();
        _spec = spec;
        _ops = imageOps ?? throw new ArgumentNullException(nameof(imageOps));
        _ownsRunners = ownsRunners;
        if (!string.Equals(spec.Kind, "cascade", StringComparison.OrdinalIgnoreCase))
            throw new ArgumentException($"detector.kind: '{spec.Kind}' is not supported (only 'cascade')");
        if (spec.Stages.Count == 0) throw new ArgumentException("detector.stages: at least one stage is needed");
        if (runners.Count != spec.Stages.Count)
            throw new ArgumentException($"detector.stages: {spec.Stages.Count} stages but {runners.Count} networks");
        if (spec.Pyramid.CellSize <= 0 || spec.Pyramid.Stride <= 0)
            throw new ArgumentException("detector.pyramid.cellSize and stride must be > 0");
        int laneCount = lanes[0].Count;
        if (lanes.Any(l => l.Count != laneCount)) throw new ArgumentException("every stage needs the same number of network copies (lanes)");
        _stages = new Stage[spec.Stages.Count];
        for (int i = 0; i < _stages.Length; i++) _stages[i] = new Stage(spec.Stages[i], [.. lanes[i]], i);
        if (laneCount > 1) _gang = new ParallelWorkers(laneCount);
        _levelRuns = new LevelRuns(this, laneCount);
        _chunkRuns = new ChunkRuns();
        _result = new CascadeResult(_stages.Length, _scales);
        _packLevels = new LevelPacker(this);
        _packCrops = new CropPacker();
        for (int i = 0; i < _stages.Length; i++) _result.SetStage(i, new StageTiming(_stages[i].Name, 0, 0, 0));
    }

    /// <summary>
    /// Opens every stage's network from <paramref name="package"/>, <see cref="InferenceOptions.ResolvedLanes"/>
    /// copies each (sharing the intra-op threads between them), and builds the detector (which then owns them).
    /// </summary>
    public static CascadeDetector Open(ModelPackage package, INetworkFactory factory, InferenceOptions options, IImageOps imageOps)
    {
        ArgumentNullException.ThrowIfNull(package);
        ArgumentNullException.ThrowIfNull(factory);
        ArgumentNullException.ThrowIfNull(options);
        var spec = package.Manifest.Detector ?? throw new ModelPackageException(package.PathOf(ModelPackage.ManifestFileName), "no detector in the manifest");
        int laneCount = options.ResolvedLanes();
        var laneOptions = options.PerLane(laneCount);
        var lanes = new List<List<INetworkRunner>>();
        try
        {
            foreach (var stage in spec.Stages)
            {
                var copies = new List<INetworkRunner>();
                lanes.Add(copies);
                for (int k = 0; k < laneCount; k++) copies.Add(factory.Open(package.PathOf(stage.File), laneOptions));
            }
            return new CascadeDetector(spec, lanes, imageOps, ownsRunners: true);
        }
        catch
        {
            foreach (var r in lanes.SelectMany(l => l)) r.Dispose();
            throw;
        }
    }

    private static List<IReadOnlyList<INetworkRunner>> OneLane(IReadOnlyList<INetworkRunner> runners)
    {
        ArgumentNullException.ThrowIfNull(runners);
        return [.. runners.Select(r => (IReadOnlyList<INetworkRunner>)[r])];
    }

    public DetectorSpec Spec => _spec;

    /// <summary>The runners of lane 0, in stage order (the other lanes hold copies of the same networks).</summary>
    public IEnumerable<INetworkRunner> Runners => _stages.Select(s => s.Runner);

    /// <summary>Copies of each network run side by side (1: one network per stage).</summary>
    public int Lanes => _stages[0].Runners.Length;

    /// <summary>
    /// Runs the cascade on a BGR image. The returned result belongs to the detector and is overwritten by the
    /// next call.
    /// </summary>
    public CascadeResult Detect(ImageBuffer image)
    {
        ArgumentNullException.ThrowIfNull(image);
        long start = Stopwatch.GetTimestamp();
        long modelTicks = 0;
        _result.Clear();
        _result.ImageWidth = image.Width;
        _result.ImageHeight = image.Height;
        _current.Clear();

        long t0 = Stopwatch.GetTimestamp();
        long m0 = 0;
        RunFirstStage(image, _stages[0], ref m0);
        modelTicks += m0;
        _result.SetStage(0, new StageTiming(_stages[0].Name, Ms(Stopwatch.GetTimestamp() - t0), Ms(m0), _current.Count));

        _landmarksPerBox = 0;
        for (int s = 1; s < _stages.Length; s++)
        {
            t0 = Stopwatch.GetTimestamp();
            long m = 0;
            if (s == _stages.Length - 1) AddFrameWindows(image.Width, image.Height);
            RunRefineStage(image, _stages[s], ref m);
            modelTicks += m;
            _result.SetStage(s, new StageTiming(_stages[s].Name, Ms(Stopwatch.GetTimestamp() - t0), Ms(m), _current.Count));
        }

        bool lastHasLandmarks = _stages.Length > 1 && _stages[^1].LandmarksIndex >= 0;
        for (int i = 0; i < _current.Count; i++)
        {
            ref var c = ref _current[i];
            int lc = lastHasLandmarks ? _landmarksPerBox : 0;
            var marks = _result.Add(new BoxF((float)c.X1, (float)c.Y1, (float)c.X2, (float)c.Y2), (float)c.Score, lc);
            if (lc > 0) _landmarks.AsSpan(c.Tag * lc, lc).CopyTo(marks);
        }
        _result.ModelMs = Ms(modelTicks);
        _result.TotalMs = Ms(Stopwatch.GetTimestamp() - start);
        return _result;
    }

    /// <summary>
    /// The manifest's frame windows join the last stage's candidates after the survivors of the stage before it, in
    /// the trainer's order (eitrain.cascade.last_stage_candidates). Each corner is a float32 product truncated toward
    /// zero, as numpy's fix of the trainer's float32 arithmetic, so both score the same crops.
    /// </summary>
    private void AddFrameWindows(int width, int height)
    {
        if (_spec.FrameWindows is not { Length: > 0 } windows) return;
        float fw = width, fh = height;
        foreach (var w in windows)
            _current.Add(new Candidate(MathF.Truncate(w[0] * fw), MathF.Truncate(w[1] * fh), MathF.Truncate(w[2] * fw), MathF.Truncate(w[3] * fh), 1.0));
    }

    private void RunFirstStage(ImageBuffer image, Stage stage, ref long modelTicks)
    {
        var pyramid = _spec.Pyramid;
        int scales = CascadeMath.Scales(pyramid, image.Width, image.Height, _scales);
        _result.ScaleCount = scales;
        int n = CascadeMath.Levels(pyramid, image.Width, image.Height, _scales.AsSpan(0, scales), _levelScaleX, _levelScaleY);
        var spec = stage.Spec;
        for (int s = 0; s < n; s++)
        {
            var state = ScaleStateAt(s, CascadeMath.ScaledSize(image.Width, _levelScaleX[s]), CascadeMath.ScaledSize(image.Height, _levelScaleY[s]));
            _levels[s] = state.Resized!;
            stage.Packer.ShapeFor(1, state.Resized!.Width, state.Resized.Height, _shape);
            state.Inputs[0].SetShape(_shape);
        }
        // Every level from the full image, as the reference resizes (never level from level: results would differ);
        // each finished row range is packed into its level's tensor by whichever worker resized it (RowsReady).
        _ops.ResizeAreaEach(image, _levels.AsSpan(0, n), _packLevels);

        // Every level's run, then every level's scan: with lanes, levels run side by side (AssignLevels).
        int lanes = _gang is null ? 1 : AssignLevels(n);
        long r0 = Stopwatch.GetTimestamp();
        if (lanes == 1)
        {
            for (int s = 0; s < n; s++) stage.Runner.Run(_scaleStates[s].Inputs, _scaleStates[s].Outputs);
        }
        else
        {
            _gang!.For(lanes, _levelRuns);
        }
        modelTicks += Stopwatch.GetTimestamp() - r0;

        for (int s = 0; s < n; s++)
        {
            double scaleX = _levelScaleX[s], scaleY = _levelScaleY[s];
            var state = _scaleStates[s];

            var scores = state.Outputs[stage.ScoresIndex];
            var boxes = state.Outputs[stage.BoxesIndex];
            MapDims(stage.Packer.Layout, scores.Shape, out int gw, out int gh, out int sc);
            MapDims(stage.Packer.Layout, boxes.Shape, out int bw, out int bh, out int bc);
            if (bw != gw || bh != gh || bc < 4 || sc < 2)
                throw new InvalidOperationException($"{stage.Name}: output shapes {scores} and {boxes} do not match a [N, W', H', 2] / [N, W', H', 4] map");
            var sv = scores.Span;
            var bv = boxes.Span;
            var layout = stage.Packer.Layout;

            _scaleBoxes.Clear();
            MapStrides(layout, gw, gh, sc, out int sx, out int sy, out int sch);
            float threshold = spec.Threshold;
            // x (along the width) outer, y inner: the order numpy's where() yields on the reference's [W', H'] map.
            for (int x = 0; x < gw; x++)
            {
                int o = (x * sx) + sch; // channel 1 = "object"
                for (int y = 0; y < gh; y++, o += sy)
                {
                    float score = sv[o];
                    if (score < threshold) continue; // first stage keeps score >= threshold
                    var c = CascadeMath.CellBox(x, y, scaleX, scaleY, pyramid.Stride, pyramid.CellSize, score);
                    ReadRegression(ref c, bv, layout, x, y, gw, gh, bc);
                    c.Tag = (x * gh) + y; // the cell, for the single-cell quirk below
                    _scaleBoxes.Add(c);
                }
            }
            if (_scaleBoxes.Count == 1 && spec.ReferenceSingleCellFlip)
            {
                // ipazc/mtcnn flips the regression maps upside down (np.flipud on [W', H']) when exactly one cell passes.
                ref var only = ref _scaleBoxes[0];
                ReadRegression(ref only, bv, layout, gw - 1 - (only.Tag / gh), only.Tag % gh, gw, gh, bc);
            }
            int kept = CascadeMath.Nms(_scaleBoxes.Span, spec.Nms.Iou, spec.Nms.Mode, _nms);
            _current.AddRange(_scaleBoxes.Span[..kept]);
        }

        // P-Net's candidates from all scales meet in the cross-scale NMS.
        RegressAndSuppress(stage, _spec.CrossScaleNms);
    }

    /// <summary>
    /// Deals the pyramid levels to the lanes, largest first, each to the lane with the least work so far (by
    /// pixels): the same levels go to the same lane every frame of a size, so every network copy meets only its own
    /// level buffers and, once warm, allocates nothing. Returns the lanes used. Even the smallest photo (199 x 148)
    /// gains from a second lane: each copy runs on one thread, so one lane alone would leave a core idle.
    /// </summary>
    private int AssignLevels(int n)
    {
        int lanes = Math.Min(Lanes, n);
        Span<long> load = stackalloc long[lanes];
        var counts = _levelRuns.Counts;
        Array.Clear(counts);
        for (int s = 0; s < n; s++) // scales decrease, so levels come largest first
        {
            int best = 0;
            for (int k = 1; k < lanes; k++) if (load[k] < load[best]) best = k;
            load[best] += (long)_levels[s].Width * _levels[s].Height;
            _levelRuns.Levels[best][counts[best]++] = s;
        }
        return lanes;
    }

    private void RunRefineStage(ImageBuffer image, Stage stage, ref long modelTicks)
    {
        int n = _current.Count;
        if (n == 0) return;
        var spec = stage.Spec;
        int iw = spec.Input.Width, ih = spec.Input.Height;
        int patchLen = iw * ih * 3;
        int block = Math.Min(n, BlockRows(patchLen));
        if (_patches.Length < patchLen * block)
            _patches = new float[Math.Min(patchLen * BlockRows(patchLen), Math.Max(patchLen * block, _patches.Length * 2))];
        if (_crops.Length < n) _crops = new PixelRect[Math.Max(n, _crops.Length * 2)];
        for (int i = 0; i < n; i++)
        {
            ref var c = ref _current[i];
            CascadeMath.Truncate(ref c); // np.fix before __pad, as the reference does between stages
            c.Tag = i;
            var crop = CascadeMath.CropOf(c, image.Width, image.Height, stage.CropMargin);
            _crops[i] = crop.IsEmpty ? default : new PixelRect(crop.X, crop.Y, crop.Width, crop.Height);
        }

        // Block by block: each candidate's row is independent of the others, so the result is the same as one batch,
        // while the patches, the stage's tensors and ONNX Runtime's arena only ever hold one block. Survivors are
        // written back in place: kept <= i, and every crop was taken above, so a later block reads nothing overwritten.
        int kept = 0, lc = -1;
        for (int b0 = 0; b0 < n; b0 += block)
        {
            int len = Math.Min(block, n - b0);
            int chunks = stage.Chunk(len);
            for (int k = 0; k < chunks; k++)
            {
                stage.Packer.ShapeFor(stage.ChunkStart[k + 1] - stage.ChunkStart[k], iw, ih, _shape);
                stage.LaneInputs[k][0].SetShape(_shape);
            }
            // All the block's crops in one call, so the image ops can spread them over the cores; each patch is packed
            // into its chunk's tensor by the worker that cropped it (CropReady).
            _packCrops.Stage = stage;
            _ops.CropResizeAreaEach(image, _crops.AsSpan(b0, len), iw, ih, _patches.AsSpan(0, patchLen * len), _packCrops);
            _packCrops.Stage = null;

            long r0 = Stopwatch.GetTimestamp();
            if (chunks == 1)
            {
                stage.Runner.Run(stage.LaneInputs[0], stage.LaneOutputs[0]);
            }
            else
            {
                _chunkRuns.Stage = stage;
                _gang!.For(chunks, _chunkRuns);
                _chunkRuns.Stage = null;
            }
            modelTicks += Stopwatch.GetTimestamp() - r0;

            if (lc < 0)
            {
                lc = 0;
                if (stage.LandmarksIndex >= 0)
                {
                    var lt = stage.LaneOutputs[0][stage.LandmarksIndex];
                    lc = lt.Length / (stage.ChunkStart[1] - stage.ChunkStart[0]) / 2;
                    if (_landmarks.Length < n * lc) _landmarks = new Landmark[n * lc];
                    _landmarksPerBox = lc;
                }
            }
            kept = KeepPassing(stage, b0, len, lc, kept);
        }
        _current.Count = kept;

        RegressAndSuppress(stage, spec.Nms);
    }

    /// <summary>
    /// Patch floats a refining stage holds at once (default 2^20, 4 MB; at least 32 candidates a block, one network
    /// run's worth). A frame whose first stage passes thousands of candidates (NEU-DET's steel textures: 3,500 on a
    /// 200 x 200 frame) would otherwise grow the patches and the stage's pinned tensors to hundreds of MB, kept for
    /// the detector's life. The rows are independent, so the block size changes no result, only memory and speed.
    /// </summary>
    public int RefineBlockFloats
    {
        get => _refineBlockFloats;
        set => _refineBlockFloats = value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "must be > 0");
    }

    private int _refineBlockFloats = 1 << 20;

    /// <summary>Candidates per block: as many patches as fit <see cref="RefineBlockFloats"/>, at least 32.</summary>
    private int BlockRows(int patchLen) => Math.Max(32, _refineBlockFloats / patchLen);

    /// <summary>
    /// Reads the outputs of candidates [<paramref name="b0"/>, b0 + len) and writes those above the stage's threshold,
    /// with their scores and regression, to _current from <paramref name="kept"/> on; returns the new count.
    /// </summary>
    private int KeepPassing(Stage stage, int b0, int len, int lc, int kept)
    {
        var spec = stage.Spec;
        int chunk = -1, chunkStart = 0, chunkEnd = 0, sc = 0, bc = 0;
        ReadOnlySpan<float> sv = default, bv = default, lv = default;
        for (int j = 0; j < len; j++)
        {
            if (j == chunkEnd)
            {
                // The next chunk's outputs; its rows count from the chunk's first candidate.
                chunk++;
                chunkStart = stage.ChunkStart[chunk];
                chunkEnd = stage.ChunkStart[chunk + 1];
                int size = chunkEnd - chunkStart;
                var outs = stage.LaneOutputs[chunk];
                var scores = outs[stage.ScoresIndex];
                var boxes = outs[stage.BoxesIndex];
                sc = scores.Length / size;
                bc = boxes.Length / size;
                if (sc < 2 || bc < 4) throw new InvalidOperationException($"{stage.Name}: outputs {scores} / {boxes} are not [N, 2] / [N, 4]");
                sv = scores.Span;
                bv = boxes.Span;
                if (lc > 0) lv = outs[stage.LandmarksIndex].Span;
            }
            int r = j - chunkStart;
            float score = sv[(r * sc) + 1];
            if (!(score > spec.Threshold)) continue; // later stages keep score > threshold
            int i = b0 + j;
            var c = _current[i];
            c.Score = score;
            c.Dx1 = bv[r * bc];
            c.Dy1 = bv[(r * bc) + 1];
            c.Dx2 = bv[(r * bc) + 2];
            c.Dy2 = bv[(r * bc) + 3];
            if (lc > 0)
            {
                // Landmarks are relative to the box the network saw (before regression): x = w * p + x1 - 1.
                double w = c.X2 - c.X1 + 1, h = c.Y2 - c.Y1 + 1;
                var marks = lv.Slice(r * lc * 2, lc * 2);
                for (int k = 0; k < lc; k++)
                {
                    _landmarks[(i * lc) + k] = new Landmark((float)((w * marks[k]) + c.X1 - 1), (float)((h * marks[lc + k]) + c.Y1 - 1));
                }
            }
            _current[kept++] = c;
        }
        return kept;
    }

    /// <summary>
    /// The end of every stage: box regression and NMS in the order the stage asks for (the reference regresses
    /// before its last NMS only in O-Net), then squaring when the stage squares.
    /// </summary>
    private void RegressAndSuppress(Stage stage, NmsSpec nms)
    {
        var spec = stage.Spec;
        bool inclusive = stage.InclusiveWidth;
        if (spec.NmsAfterRegression)
        {
            for (int i = 0; i < _current.Count; i++) CascadeMath.Regress(ref _current[i], inclusive);
            _current.Count = CascadeMath.Nms(_current.Span, nms.Iou, nms.Mode, _nms);
        }
        else
        {
            _current.Count = CascadeMath.Nms(_current.Span, nms.Iou, nms.Mode, _nms);
            for (int i = 0; i < _current.Count; i++) CascadeMath.Regress(ref _current[i], inclusive);
        }
        if (spec.Square)
        {
            for (int i = 0; i < _current.Count; i++) CascadeMath.Square(ref _current[i]);
        }
    }

    private static void ReadRegression(ref Candidate c, ReadOnlySpan<float> bv, TensorLayout layout, int x, int y, int gw, int gh, int bc)
    {
        c.Dx1 = bv[MapOffset(layout, x, y, 0, gw, gh, bc)];
        c.Dy1 = bv[MapOffset(layout, x, y, 1, gw, gh, bc)];
        c.Dx2 = bv[MapOffset(layout, x, y, 2, gw, gh, bc)];
        c.Dy2 = bv[MapOffset(layout, x, y, 3, gw, gh, bc)];
    }

    /// <summary>A fully convolutional output map keeps the input's layout: [1, W', H', C], [1, H', W', C] or [1, C, H', W'].</summary>
    private static void MapDims(TensorLayout layout, ReadOnlySpan<long> shape, out int w, out int h, out int c)
    {
        if (shape.Length != 4) { w = h = c = 0; return; }
        switch (layout)
        {
            case TensorLayout.Nwhc: w = (int)shape[1]; h = (int)shape[2]; c = (int)shape[3]; break;
            case TensorLayout.Nhwc: h = (int)shape[1]; w = (int)shape[2]; c = (int)shape[3]; break;
            default: c = (int)shape[1]; h = (int)shape[2]; w = (int)shape[3]; break;
        }
    }

    private static int MapOffset(TensorLayout layout, int x, int y, int ch, int w, int h, int c)
    {
        MapStrides(layout, w, h, c, out int sx, out int sy, out int sch);
        return (x * sx) + (y * sy) + (ch * sch);
    }

    private static void MapStrides(TensorLayout layout, int w, int h, int c, out int sx, out int sy, out int sch)
    {
        switch (layout)
        {
            case TensorLayout.Nwhc: sx = h * c; sy = c; sch = 1; break;
            case TensorLayout.Nhwc: sx = c; sy = w * c; sch = 1; break;
            default: sx = 1; sy = w; sch = w * h; break;
        }
    }

    private ScaleState ScaleStateAt(int index, int w, int h)
    {
        while (_scaleStates.Count <= index) _scaleStates.Add(new ScaleState(_stages[0].Runner.Outputs.Count));
        var state = _scaleStates[index];
        if (state.Resized is null) state.Resized = new ImageBuffer(w, h);
        else state.Resized.Reshape(w, h);
        return state;
    }

    private static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    public void Dispose()
    {
        _gang?.Dispose();
        foreach (var s in _scaleStates) s.Resized?.Dispose();
        if (_ownsRunners)
        {
            foreach (var r in _stages.SelectMany(s => s.Runners)) r.Dispose();
        }
    }

    /// <summary>Packs each finished row range of a pyramid level into that level's P-Net input (on the worker that resized it).</summary>
    private sealed class LevelPacker(CascadeDetector owner) : IResizeSink
    {
        public void RowsReady(int level, int y0, int y1, int worker)
        {
            var state = owner._scaleStates[level];
            var image = state.Resized!;
            owner._stages[0].Packer.PackRows(image.Pixels, image.Width, image.Height, state.Inputs[0].Span, 0, y0, y1);
        }
    }

    /// <summary>Packs each finished crop into its slot of the refining stage's batch input (on the worker that cropped it).</summary>
    private sealed class CropPacker : ICropSink
    {
        public Stage? Stage { get; set; }

        public void CropReady(int index, ReadOnlySpan<float> patch, int worker)
        {
            var stage = Stage!;
            int k = 0;
            while (index >= stage.ChunkStart[k + 1]) k++;
            stage.Packer.Pack(patch, stage.Spec.Input.Width, stage.Spec.Input.Height, stage.LaneInputs[k][0].Span, index - stage.ChunkStart[k]);
        }
    }

    /// <summary>The first stage's runs, one item per lane: lane k runs its levels (Levels[k], Counts[k] of them) on its copy.</summary>
    private sealed class LevelRuns(CascadeDetector owner, int lanes) : IParallelBody
    {
        public int[][] Levels { get; } = [.. Enumerable.Range(0, lanes).Select(_ => new int[MaxScales])];
        public int[] Counts { get; } = new int[lanes];

        public void Run(int item, int worker)
        {
            var runner = owner._stages[0].Runners[item];
            var levels = Levels[item];
            for (int i = 0; i < Counts[item]; i++)
            {
                var state = owner._scaleStates[levels[i]];
                runner.Run(state.Inputs, state.Outputs);
            }
        }
    }

    /// <summary>A refining stage's runs, one item per chunk of its batch, chunk k on lane k.</summary>
    private sealed class ChunkRuns : IParallelBody
    {
        public Stage? Stage { get; set; }

        public void Run(int item, int worker)
        {
            var stage = Stage!;
            stage.Runners[item].Run(stage.LaneInputs[item], stage.LaneOutputs[item]);
        }
    }

    /// <summary>Per pyramid level: the resized image and its own tensors (their shapes differ per level, so each keeps its native views).</summary>
    private sealed class ScaleState
    {
        public ScaleState(int outputs)
        {
            Inputs = [new TensorBuffer()];
            Outputs = new TensorBuffer[outputs];
            for (int i = 0; i < outputs; i++) Outputs[i] = new TensorBuffer();
        }

        public ImageBuffer? Resized;
        public TensorBuffer[] Inputs { get; }
        public TensorBuffer[] Outputs { get; }
    }

    private sealed class Stage
    {
        public Stage(StageSpec spec, INetworkRunner[] runners, int index)
        {
            Spec = spec;
            Runners = runners;
            if (Array.Exists(runners, r => r is null)) throw new ArgumentNullException(nameof(runners));
            var runner = runners[0];
            Name = string.IsNullOrEmpty(spec.Name) ? $"stage{index + 1}" : spec.Name;
            string key = $"detector.stages[{index}]";
            try
            {
                Packer = new TensorPacker(spec.Input);
            }
            catch (ArgumentException ex)
            {
                throw new ArgumentException($"{key}.{ex.Message}", ex);
            }
            if (runner.Inputs.Count != 1)
                throw new ArgumentException($"{key}: {runner.ModelPath} has {runner.Inputs.Count} inputs; a cascade stage needs exactly one");
            if (!string.IsNullOrEmpty(spec.Input.Name) && runner.InputIndex(spec.Input.Name) < 0)
                throw new ArgumentException($"{key}.input.name: '{spec.Input.Name}' is not an input of {runner.ModelPath} (it has '{runner.Inputs[0].Name}')");
            if (index > 0 && (spec.Input.Width <= 0 || spec.Input.Height <= 0))
                throw new ArgumentException($"{key}.input: width and height must be > 0 for a refining stage");
            BoxesIndex = OutputIndex(runner, spec.Outputs.Boxes, $"{key}.outputs.boxes");
            ScoresIndex = OutputIndex(runner, spec.Outputs.Scores, $"{key}.outputs.scores");
            LandmarksIndex = string.IsNullOrEmpty(spec.Outputs.Landmarks) ? -1 : OutputIndex(runner, spec.Outputs.Landmarks, $"{key}.outputs.landmarks");
            InclusiveWidth = spec.RegressionWidth.ToLowerInvariant() switch
            {
                "inclusive" => true,
                "exclusive" => false,
                _ => throw new ArgumentException($"{key}.regressionWidth: '{spec.RegressionWidth}' (inclusive or exclusive)"),
            };
            LaneInputs = new TensorBuffer[runners.Length][];
            LaneOutputs = new TensorBuffer[runners.Length][];
            for (int k = 0; k < runners.Length; k++)
            {
                LaneInputs[k] = [new TensorBuffer()];
                LaneOutputs[k] = new TensorBuffer[runner.Outputs.Count];
                for (int i = 0; i < LaneOutputs[k].Length; i++) LaneOutputs[k][i] = new TensorBuffer();
            }
            ChunkStart = new int[runners.Length + 1];
            CropMargin = CascadeMath.AsDecimalDouble(spec.Input.CropMargin);
        }

        /// <summary>Cuts a batch of <paramref name="n"/> into equal chunks, one per lane (fewer when n is smaller); returns how many.</summary>
        public int Chunk(int n)
        {
            int chunks = Math.Max(1, Math.Min(Runners.Length, n));
            for (int k = 0; k <= chunks; k++) ChunkStart[k] = n * k / chunks;
            for (int k = chunks + 1; k < ChunkStart.Length; k++) ChunkStart[k] = n;
            return chunks;
        }

        private static int OutputIndex(INetworkRunner runner, string name, string key)
        {
            int i = runner.OutputIndex(name);
            if (i < 0)
                throw new ArgumentException($"{key}: '{name}' is not an output of {runner.ModelPath} (it has {string.Join(", ", runner.Outputs.Select(o => o.Name))})");
            return i;
        }

        public StageSpec Spec { get; }
        /// <summary>This stage's network, one copy per lane.</summary>
        public INetworkRunner[] Runners { get; }
        public INetworkRunner Runner => Runners[0];
        public string Name { get; }
        public TensorPacker Packer { get; }
        public int BoxesIndex { get; }
        public int ScoresIndex { get; }
        public int LandmarksIndex { get; }
        public bool InclusiveWidth { get; }
        /// <summary>input.cropMargin as the decimal the manifest wrote (the trainer's double).</summary>
        public double CropMargin { get; }
        /// <summary>A refining stage's batch chunk k: its input and outputs (lane k runs it).</summary>
        public TensorBuffer[][] LaneInputs { get; }
        public TensorBuffer[][] LaneOutputs { get; }
        /// <summary>Chunk k holds candidates [ChunkStart[k], ChunkStart[k + 1]).</summary>
        public int[] ChunkStart { get; }
    }
}
