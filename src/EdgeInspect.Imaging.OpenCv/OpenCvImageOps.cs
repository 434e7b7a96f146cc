using System.Runtime.InteropServices;
using EdgeInspect.Core.Detection;
using EdgeInspect.Core.Imaging;
using OpenCvSharp;

namespace EdgeInspect.Imaging.OpenCv;

/// <summary>
/// <see cref="IImageOps"/> on OpenCV. Mats are headers over managed memory (no pixel copies): image buffers are
/// pinned once and their headers cached, crop patches live in pinned scratch arrays whose headers are cached per
/// size, so a warm cascade creates no new Mat and copies only what a crop must copy.
/// Not thread-safe (one instance per detector).
/// </summary>
public sealed class OpenCvImageOps : IImageOps, IDisposable
{
    private const int MaxCachedHeaders = 256;
    private readonly Dictionary<byte[], PinnedImage> _images = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<(int W, int H), MatView> _patchHeaders = [];
    private readonly Dictionary<(int W, int H), MatView> _outHeaders = [];
    private readonly AreaDownscaler _area = new();
    private float[] _patch = GC.AllocateArray<float>(64 * 64 * 3, pinned: true);
    private float[] _out = GC.AllocateArray<float>(48 * 48 * 3, pinned: true);
    private bool _disposed;

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

    public void ResizeAreaEach(ImageBuffer source, ReadOnlySpan<ImageBuffer> destinations)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        bool staged = false;
        foreach (var destination in destinations)
        {
            if (UseManagedArea && AreaDownscaler.Handles(source.Width, source.Height, destination.Width, destination.Height))
            {
                if (!staged) _area.Stage(source.Pixels, source.Width, source.Height);
                staged = true;
                _area.ResizeTo(destination.Width, destination.Height, destination.Pixels);
            }
            else
            {
                ResizeAreaOpenCv(source, destination);
            }
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

        if (UseManagedArea && AreaDownscaler.Handles(width, height, outWidth, outHeight))
        {
            // The same zero-padded float patch and float area kernel as below, staged straight from the image.
            _area.StageRegion(source.Pixels, source.Width, source.Height, x, y, width, height);
            _area.ResizeTo(outWidth, outHeight, destination);
            return;
        }

        // The zero-padded float patch, as the MTCNN reference builds it (np.zeros then copy the inside part).
        var window = new CropWindow(x, y, width, height, source.Width, source.Height);
        int patchLen = width * height * 3;
        if (_patch.Length < patchLen) GrowPatch(patchLen);
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
        if (_out.Length < outLen) GrowOut(outLen);
        var patchMat = Header(_patchHeaders, _patch, width, height);
        var outMat = Header(_outHeaders, _out, outWidth, outHeight);
        ResizeArea(patchMat, outMat, outWidth, outHeight);
        _out.AsSpan(0, outLen).CopyTo(destination);
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
        if (cache.Count >= MaxCachedHeaders) Release(cache);
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

    private void GrowPatch(int n)
    {
        _patch = GC.AllocateArray<float>(Math.Max(n, _patch.Length * 2), pinned: true);
        Release(_patchHeaders);
    }

    private void GrowOut(int n)
    {
        _out = GC.AllocateArray<float>(Math.Max(n, _out.Length * 2), pinned: true);
        Release(_outHeaders);
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
        ReleaseImages();
        Release(_patchHeaders);
        Release(_outHeaders);
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
