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
    private readonly Dictionary<(int W, int H), Mat> _patchHeaders = [];
    private readonly Dictionary<(int W, int H), Mat> _outHeaders = [];
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

    public void ResizeArea(ImageBuffer source, ImageBuffer destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var src = HeaderOf(source);
        var dst = HeaderOf(destination);
        Cv2.Resize(src, dst, new Size(destination.Width, destination.Height), 0, 0, InterpolationFlags.Area);
    }

    public void CropResizeArea(ImageBuffer source, int x, int y, int width, int height, int outWidth, int outHeight, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        int outLen = outWidth * outHeight * 3;
        if (destination.Length < outLen) throw new ArgumentException($"destination needs {outLen} floats", nameof(destination));

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
            for (int i = 0; i < srcRow.Length; i++) dstRow[i] = srcRow[i];
        }

        if (width == outWidth && height == outHeight)
        {
            patch[..outLen].CopyTo(destination);
            return;
        }
        if (_out.Length < outLen) GrowOut(outLen);
        var patchMat = Header(_patchHeaders, _patch, width, height);
        var outMat = Header(_outHeaders, _out, outWidth, outHeight);
        Cv2.Resize(patchMat, outMat, new Size(outWidth, outHeight), 0, 0, InterpolationFlags.Area);
        _out.AsSpan(0, outLen).CopyTo(destination);
    }

    private Mat HeaderOf(ImageBuffer image)
    {
        var array = image.Array;
        if (_images.TryGetValue(array, out var pinned))
        {
            if (pinned.Width == image.Width && pinned.Height == image.Height) return pinned.Mat;
            pinned.Mat.Dispose();
            var mat = Mat.FromPixelData(image.Height, image.Width, MatType.CV_8UC3, pinned.Handle.AddrOfPinnedObject());
            _images[array] = pinned with { Mat = mat, Width = image.Width, Height = image.Height };
            return mat;
        }
        if (_images.Count >= MaxCachedHeaders) ReleaseImages();
        // Pinned for as long as the header is cached: pool arrays are reused frame after frame, so this is a one-off.
        var handle = GCHandle.Alloc(array, GCHandleType.Pinned);
        var header = Mat.FromPixelData(image.Height, image.Width, MatType.CV_8UC3, handle.AddrOfPinnedObject());
        _images[array] = new PinnedImage(handle, header, image.Width, image.Height);
        return header;
    }

    private static Mat Header(Dictionary<(int W, int H), Mat> cache, float[] pinnedArray, int w, int h)
    {
        if (cache.TryGetValue((w, h), out var mat)) return mat;
        if (cache.Count >= MaxCachedHeaders) Release(cache);
        unsafe
        {
            // The array lives on the pinned object heap: its address never changes.
            fixed (float* p = pinnedArray)
            {
                mat = Mat.FromPixelData(h, w, MatType.CV_32FC3, (IntPtr)p);
            }
        }
        cache[(w, h)] = mat;
        return mat;
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

    private static void Release(Dictionary<(int W, int H), Mat> cache)
    {
        foreach (var m in cache.Values) m.Dispose();
        cache.Clear();
    }

    private void ReleaseImages()
    {
        foreach (var p in _images.Values)
        {
            p.Mat.Dispose();
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

    private readonly record struct PinnedImage(GCHandle Handle, Mat Mat, int Width, int Height);
}
