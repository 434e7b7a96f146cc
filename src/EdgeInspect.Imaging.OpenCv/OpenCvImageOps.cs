using System.Runtime.InteropServices;
using EdgeInspect.Core.Detection;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Concurrency;
using OpenCvSharp;

namespace EdgeInspect.Imaging.OpenCv;

/// <summary>
/// <see cref="IImageOps"/> on OpenCV. Mats are headers over managed memory (no pixel copies): image buffers are
/// pinned once and their headers cached, crop patches live in pinned scratch arrays whose headers are cached per
/// size, so a warm cascade creates no new Mat and copies only what a crop must copy.
/// <para>
/// Area downscales go to OpenCV's general INTER_AREA kernel reproduced bit for bit and vectorised: pyramids to
/// <see cref="AreaPyramid"/> (one streaming pass, a band of source rows per worker), crops to
/// <see cref="AreaDownscaler"/> (one crop per item, each worker with its own scratch, a <see cref="Lane"/>); both
/// batch calls (<see cref="ResizeAreaEach"/>, <see cref="CropResizeAreaEach"/>) run on <see cref="ParallelWorkers"/>. Between those calls the
/// cores belong to ONNX Runtime; within them the image work is spread over every core.
/// </para>
/// <para>One file on purpose: every operation shares the cached Mat headers and pinned scratch, whose lifetime
/// rules (pinned once, released on dispose) are easiest to check in one place.</para>
/// One caller at a time (the detector that owns it).
/// </summary>
public sealed class OpenCvImageOps : IImageOps, IDisposable
{
    private const int MaxCachedHeaders = 1024;

    // Crop sizes OpenCV still resizes (a box under the input size on either side) get a header each, per image
    // worker, so that a warm line never evicts and re-creates them. A 64 x 64 input with an aspect pyramid
    // (neu-steel's O-Net) meets thousands of sizes: 4,722 in one worker's cache over the 184 NEU val images, where a
    // 1,024 cap was cleared and refilled (27,956 headers made instead of 9,254, a few KB per frame). Peak resident
    // memory of that eval did not grow with the larger cap (219 MB against 230 MB). docs/benchmarks.md.
    private const int MaxCachedCropHeaders = 8192;
    // Below these, a helper's wake-up (50-100 us on the 2-core VM) costs more than its share of the work saves.
    private const int MinPixelsPerWorker = 10_000;
    private const int MinCropsPerWorker = 4;
    private readonly Dictionary<byte[], PinnedImage> _images = new(ReferenceEqualityComparer.Instance);
    private readonly ParallelWorkers _workers;
    private readonly Lane[] _lanes;
    private readonly PyramidJob _pyramid;
    private readonly CropJob _crops;
    private bool _disposed;

    /// <param name="workers">Threads for the batch calls, the caller included; 0 = one per core (at most 4).</param>
    public OpenCvImageOps(int workers = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(workers);
        _workers = new ParallelWorkers(workers > 0 ? workers : Math.Clamp(Environment.ProcessorCount, 1, 4));
        _lanes = new Lane[_workers.Count];
        for (int i = 0; i < _lanes.Length; i++) _lanes[i] = new Lane();
        _pyramid = new PyramidJob();
        _crops = new CropJob(this);
    }

    /// <summary>Threads the batch calls use, the caller included.</summary>
    public int Workers => _workers.Count;

    public ImageBuffer Decode(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new ImageDecodeException(path, "image file not found");
        using var mat = Cv2.ImRead(path, ImreadModes.Color);
        if (mat.Empty()) throw new ImageDecodeException(path, "not a readable image (OpenCV could not decode it)");
        if (mat.Type() != MatType.CV_8UC3) throw new ImageDecodeException(path, $"decoded to {mat.Type()}, expected 8-bit BGR");
        int width = mat.Width, height = mat.Height;
        var buffer = new ImageBuffer(width, height);
        int rowBytes = width * 3;
        var dst = buffer.Pixels;
        unsafe
        {
            for (int y = 0; y < height; y++)
            {
                new ReadOnlySpan<byte>((void*)mat.Ptr(y), rowBytes).CopyTo(dst.Slice(y * rowBytes, rowBytes));
            }
        }
        return buffer;
    }

    public void ResizeArea(ImageBuffer source, ImageBuffer destination) => ResizeAreaEach(source, new ReadOnlySpan<ImageBuffer>(in destination));

    public void ResizeAreaEach(ImageBuffer source, ReadOnlySpan<ImageBuffer> destinations, IResizeSink? sink = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _pyramid.Clear(destinations.Length);
        for (int i = 0; i < destinations.Length; i++)
        {
            var d = destinations[i];
            if (UseManagedArea && AreaPyramid.Handles(source, d))
            {
                _pyramid.Add(d, i);
                continue;
            }
            ResizeAreaOpenCv(source, d); // header caches are not thread-safe: OpenCV's share stays on this thread
            sink?.RowsReady(i, 0, d.Height, 0);
        }
        if (_pyramid.Count == 0) return;
        // One streaming pass over the source per band of rows (see AreaPyramid), bands spread over the workers;
        // each finished output row is packed by the worker that finished it.
        int parts = _pyramid.Start(source, sink, source.Width * source.Height < MinPixelsPerWorker * 2 ? 1 : _workers.Count);
        try
        {
            _workers.For(parts, _pyramid);
        }
        finally
        {
            _pyramid.Finish();
        }
    }

    /// <summary>
    /// False sends every area resize to OpenCV itself (the reference the managed kernel is tested against); true,
    /// the default, lets <see cref="AreaDownscaler"/> take the downscales it reproduces bit for bit.
    /// </summary>
    public bool UseManagedArea { get; init; } = true;

    private void ResizeAreaOpenCv(ImageBuffer source, ImageBuffer destination)
    {
        var src = HeaderOf(source);
        var dst = HeaderOf(destination);
        ResizeArea(src, dst, destination.Width, destination.Height);
    }

    public void CropResizeArea(ImageBuffer source, int x, int y, int width, int height, int outWidth, int outHeight, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        int outLen = outWidth * outHeight * 3;
        if (destination.Length < outLen) throw new ArgumentException($"destination needs {outLen} floats", nameof(destination));
        _lanes[0].Crop(source, new PixelRect(x, y, width, height), outWidth, outHeight, destination, UseManagedArea);
    }

    public unsafe void CropResizeAreaEach(ImageBuffer source, ReadOnlySpan<PixelRect> crops, int outWidth, int outHeight, Span<float> destination, ICropSink? sink = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        int outLen = outWidth * outHeight * 3;
        if (destination.Length < outLen * crops.Length) throw new ArgumentException($"destination needs {outLen * crops.Length} floats", nameof(destination));
        // Every lane sized for the batch's biggest crop first: items go to whichever worker is free, so otherwise a
        // lane could meet its biggest crop only frames later and allocate then.
        int maxW = 0, maxH = 0;
        foreach (var c0 in crops)
        {
            maxW = Math.Max(maxW, c0.Width);
            maxH = Math.Max(maxH, c0.Height);
        }
        foreach (var lane in _lanes) lane.Reserve(maxW, maxH, outWidth, outHeight);
        // The spans stay pinned for the whole (synchronous) loop; the workers see them through the job's pointers.
        fixed (PixelRect* c = crops)
        fixed (float* d = destination)
        {
            _crops.Start(source, c, d, outWidth, outHeight, sink);
            try
            {
                _workers.For(crops.Length, _crops, crops.Length < MinCropsPerWorker * 2 ? 1 : int.MaxValue);
            }
            finally
            {
                _crops.Finish();
            }
        }
    }

    /// <summary>byte -> float, vectorised (crops of large boxes are hundreds of thousands of values).</summary>
    private static void Widen(ReadOnlySpan<byte> src, Span<float> dst)
    {
        int i = 0;
        if (System.Numerics.Vector.IsHardwareAccelerated)
        {
            int n = System.Numerics.Vector<byte>.Count;
            int q = System.Numerics.Vector<int>.Count;
            for (; i <= src.Length - n; i += n)
            {
                var v = new System.Numerics.Vector<byte>(src.Slice(i));
                System.Numerics.Vector.Widen(v, out var lo, out var hi);
                System.Numerics.Vector.Widen(lo, out var a, out var b);
                System.Numerics.Vector.Widen(hi, out var c, out var d);
                System.Numerics.Vector.ConvertToSingle(System.Numerics.Vector.AsVectorInt32(a)).CopyTo(dst.Slice(i));
                System.Numerics.Vector.ConvertToSingle(System.Numerics.Vector.AsVectorInt32(b)).CopyTo(dst.Slice(i + q));
                System.Numerics.Vector.ConvertToSingle(System.Numerics.Vector.AsVectorInt32(c)).CopyTo(dst.Slice(i + (2 * q)));
                System.Numerics.Vector.ConvertToSingle(System.Numerics.Vector.AsVectorInt32(d)).CopyTo(dst.Slice(i + (3 * q)));
            }
        }
        for (; i < src.Length; i++) dst[i] = src[i];
    }

    /// <summary>
    /// cv::resize with INTER_AREA between two cached views. Cv2.Resize would be the same native call, but it disposes
    /// the OutputArray proxy after each use (OutputArray.Fix), forcing two proxy allocations per resize; the destination
    /// here is a fixed-size header over our own memory, so OpenCV never reallocates it and Fix has nothing to assign.
    /// </summary>
    private static void ResizeArea(MatView src, MatView dst, int width, int height)
    {
        OpenCvSharp.Internal.NativeMethods.HandleException(
            OpenCvSharp.Internal.NativeMethods.imgproc_resize(src.In.CvPtr, dst.Out.CvPtr, new Size(width, height), 0, 0, (int)InterpolationFlags.Area));
        GC.KeepAlive(src);
        GC.KeepAlive(dst);
    }

    private MatView HeaderOf(ImageBuffer image)
    {
        var array = image.Array;
        if (_images.TryGetValue(array, out var pinned))
        {
            if (pinned.Width == image.Width && pinned.Height == image.Height) return pinned.View;
            pinned.View.Dispose();
            var view = new MatView(Mat.FromPixelData(image.Height, image.Width, MatType.CV_8UC3, pinned.Handle.AddrOfPinnedObject()));
            _images[array] = pinned with { View = view, Width = image.Width, Height = image.Height };
            return view;
        }
        if (_images.Count >= MaxCachedHeaders) ReleaseImages();
        // Pinned for as long as the header is cached: pool arrays are reused frame after frame, so this is a one-off.
        var handle = GCHandle.Alloc(array, GCHandleType.Pinned);
        var header = new MatView(Mat.FromPixelData(image.Height, image.Width, MatType.CV_8UC3, handle.AddrOfPinnedObject()));
        _images[array] = new PinnedImage(handle, header, image.Width, image.Height);
        return header;
    }

    private static MatView Header(Dictionary<(int W, int H), MatView> cache, float[] pinnedArray, int w, int h)
    {
        if (cache.TryGetValue((w, h), out var view)) return view;
        if (cache.Count >= MaxCachedCropHeaders) Release(cache);
        unsafe
        {
            // The array lives on the pinned object heap: its address never changes.
            fixed (float* p = pinnedArray)
            {
                view = new MatView(Mat.FromPixelData(h, w, MatType.CV_32FC3, (IntPtr)p));
            }
        }
        cache[(w, h)] = view;
        return view;
    }

    private static void Release(Dictionary<(int W, int H), MatView> cache)
    {
        foreach (var m in cache.Values) m.Dispose();
        cache.Clear();
    }

    private void ReleaseImages()
    {
        foreach (var p in _images.Values)
        {
            p.View.Dispose();
            p.Handle.Free();
        }
        _images.Clear();
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _workers.Dispose();
        ReleaseImages();
        foreach (var lane in _lanes) lane.Dispose();
    }

    /// <summary>One worker's scratch: its area kernel and source, and the pinned patch buffers of the OpenCV fallback.</summary>
    private sealed class Lane : IDisposable
    {
        private readonly AreaDownscaler _area = new();
        private readonly AreaSource _source = new();

        private readonly Dictionary<(int W, int H), MatView> _patchHeaders = [];
        private readonly Dictionary<(int W, int H), MatView> _outHeaders = [];
        private float[] _patch = GC.AllocateArray<float>(64 * 64 * 3, pinned: true);
        private float[] _out = GC.AllocateArray<float>(48 * 48 * 3, pinned: true);

        /// <summary>Sizes this lane for crops up to width x height resized to outWidth x outHeight (grow only).</summary>
        public void Reserve(int width, int height, int outWidth, int outHeight)
        {
            if (width <= 0 || height <= 0) return;
            _source.Reserve(width, height);
            _area.Reserve(width, height, outWidth, outHeight);
            if (_patch.Length < width * height * 3)
            {
                _patch = GC.AllocateArray<float>(Math.Max(width * height * 3, _patch.Length * 2), pinned: true);
                Release(_patchHeaders);
            }
            if (_out.Length < outWidth * outHeight * 3)
            {
                _out = GC.AllocateArray<float>(Math.Max(outWidth * outHeight * 3, _out.Length * 2), pinned: true);
                Release(_outHeaders);
            }
        }

        /// <summary>One zero-padded float crop, area-resized to outWidth x outHeight (HWC floats).</summary>
        public void Crop(ImageBuffer source, PixelRect rect, int outWidth, int outHeight, Span<float> destination, bool managed)
        {
            int outLen = outWidth * outHeight * 3;
            if (rect.Width <= 0 || rect.Height <= 0)
            {
                destination[..outLen].Clear(); // an empty crop: the reference's all-zero patch
                return;
            }
            if (managed && AreaDownscaler.Handles(rect.Width, rect.Height, outWidth, outHeight))
            {
                // The same zero-padded float patch and float area kernel as below, staged straight from the image.
                _source.StageRegion(source.Pixels, source.Width, source.Height, rect.X, rect.Y, rect.Width, rect.Height);
                _area.ResizeTo(_source, outWidth, outHeight, destination);
                return;
            }

            // The zero-padded float patch, as the MTCNN reference builds it (np.zeros then copy the inside part).
            int width = rect.Width, height = rect.Height;
            var window = new CropWindow(rect.X, rect.Y, width, height, source.Width, source.Height);
            int patchLen = width * height * 3;
            if (_patch.Length < patchLen)
            {
                _patch = GC.AllocateArray<float>(Math.Max(patchLen, _patch.Length * 2), pinned: true);
                Release(_patchHeaders);
            }
            var patch = _patch.AsSpan(0, patchLen);
            patch.Clear();
            var pixels = source.Pixels;
            int copyFloats = window.CopyWidth * 3;
            for (int row = 0; row < window.CopyHeight; row++)
            {
                var srcRow = pixels.Slice((((window.SourceY0 + row) * source.Width) + window.SourceX0) * 3, copyFloats);
                var dstRow = patch.Slice((((window.PatchY + row) * width) + window.PatchX) * 3, copyFloats);
                Widen(srcRow, dstRow);
            }

            if (width == outWidth && height == outHeight)
            {
                patch[..outLen].CopyTo(destination);
                return;
            }
            if (_out.Length < outLen)
            {
                _out = GC.AllocateArray<float>(Math.Max(outLen, _out.Length * 2), pinned: true);
                Release(_outHeaders);
            }
            var patchMat = Header(_patchHeaders, _patch, width, height);
            var outMat = Header(_outHeaders, _out, outWidth, outHeight);
            ResizeArea(patchMat, outMat, outWidth, outHeight);
            _out.AsSpan(0, outLen).CopyTo(destination);
        }

        public void Dispose()
        {
            Release(_patchHeaders);
            Release(_outHeaders);
        }
    }

    /// <summary>The managed levels of a pyramid: one <see cref="AreaPyramid"/> band per item.</summary>
    private sealed class PyramidJob : IParallelBody
    {
        private readonly AreaPyramid _pyramid = new();
        private ImageBuffer[] _levels = new ImageBuffer[16];
        private int[] _levelIndex = new int[16];

        /// <summary>Managed levels added since <see cref="Clear"/>.</summary>
        public int Count { get; private set; }

        /// <summary>Forgets the last pyramid's levels and makes room for up to <paramref name="capacity"/>.</summary>
        public void Clear(int capacity)
        {
            if (_levels.Length < capacity)
            {
                _levels = new ImageBuffer[capacity];
                _levelIndex = new int[capacity];
            }
            Count = 0;
        }

        /// <summary>A level the managed kernel takes; <paramref name="index"/> is its number for the sink.</summary>
        public void Add(ImageBuffer level, int index)
        {
            _levels[Count] = level;
            _levelIndex[Count] = index;
            Count++;
        }

        /// <summary>Plans the added levels and cuts the source into bands; returns the band count.</summary>
        public int Start(ImageBuffer source, IResizeSink? sink, int workers)
        {
            _pyramid.Start(source, _levels.AsSpan(0, Count), _levelIndex.AsSpan(0, Count), sink, workers);
            return _pyramid.Parts;
        }

        public void Run(int item, int worker) => _pyramid.RunPart(item, worker);

        public void Finish()
        {
            Array.Clear(_levels); // hold no frame buffers between calls
            _pyramid.Finish();
        }
    }

    /// <summary>A batch of crops, one per item, into consecutive patches of one float buffer.</summary>
    private sealed unsafe class CropJob(OpenCvImageOps owner) : IParallelBody
    {
        private ImageBuffer? _source;
        private ICropSink? _sink;
        private PixelRect* _crops;
        private float* _destination;
        private int _outWidth, _outHeight;

        public void Start(ImageBuffer source, PixelRect* crops, float* destination, int outWidth, int outHeight, ICropSink? sink)
        {
            _sink = sink;
            _source = source;
            _crops = crops;
            _destination = destination;
            _outWidth = outWidth;
            _outHeight = outHeight;
        }

        public void Run(int item, int worker)
        {
            int outLen = _outWidth * _outHeight * 3;
            var destination = new Span<float>(_destination + ((long)item * outLen), outLen);
            owner._lanes[worker].Crop(_source!, _crops[item], _outWidth, _outHeight, destination, owner.UseManagedArea);
            _sink?.CropReady(item, destination, worker);
        }

        public void Finish()
        {
            _source = null;
            _sink = null;
            _crops = null;
            _destination = null;
        }
    }

    private readonly record struct PinnedImage(GCHandle Handle, MatView View, int Width, int Height);

    /// <summary>
    /// A Mat header with its InputArray / OutputArray proxies made once: passing a Mat to Cv2.Resize converts it
    /// implicitly, which allocates two proxy objects per call.
    /// </summary>
    private sealed class MatView(Mat mat) : IDisposable
    {
        public Mat Mat { get; } = mat;
        public InputArray In { get; } = InputArray.Create(mat);
        public OutputArray Out { get; } = OutputArray.Create(mat);

        public void Dispose()
        {
            In.Dispose();
            Out.Dispose();
            Mat.Dispose();
        }
    }
}
