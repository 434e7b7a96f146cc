namespace EdgeInspect.Core.Imaging;

/// <summary>
/// The image operations the inference path needs, over pooled BGR24 buffers (implemented with OpenCV in
/// EdgeInspect.Imaging.OpenCv). Every method writes into caller-owned memory so a warm hot path allocates nothing.
/// Not thread-safe: implementations keep native headers and scratch buffers per instance.
/// </summary>
public interface IImageOps
{
    /// <summary>
    /// Decodes an image file (JPEG, PNG, ...) into a new pooled BGR24 buffer the caller disposes.
    /// Throws <see cref="ImageDecodeException"/> naming the file when it is missing or not an image.
    /// </summary>
    ImageBuffer Decode(string path);

    /// <summary>Resizes <paramref name="source"/> to the size of <paramref name="destination"/> with area interpolation (8-bit).</summary>
    void ResizeArea(ImageBuffer source, ImageBuffer destination);

    /// <summary>
    /// <see cref="ResizeArea"/> from one source into each destination (an image pyramid): the same pixels as one
    /// call per destination, but an implementation may prepare the source once and spread the work over cores.
    /// <paramref name="sink"/>, when given, hears of each finished range of rows (possibly on a worker thread, as
    /// soon as those pixels are written), so the caller can pack them while they are in cache and other rows are
    /// still resizing.
    /// </summary>
    void ResizeAreaEach(ImageBuffer source, ReadOnlySpan<ImageBuffer> destinations, IResizeSink? sink = null)
    {
        for (int i = 0; i < destinations.Length; i++)
        {
            ResizeArea(source, destinations[i]);
            sink?.RowsReady(i, 0, destinations[i].Height, 0);
        }
    }

    /// <summary>
    /// Crops the pixel rectangle [x, x + width) x [y, y + height) of <paramref name="source"/> (it may extend past the
    /// image: those pixels are zero), converts it to float and resizes it with area interpolation to
    /// <paramref name="outWidth"/> x <paramref name="outHeight"/>, writing interleaved BGR floats (HWC) into
    /// <paramref name="destination"/> (length outWidth * outHeight * 3). Float before resizing, as the MTCNN
    /// reference does (it resizes a zero-padded float64 crop), so no rounding to 8 bits happens in between.
    /// </summary>
    void CropResizeArea(ImageBuffer source, int x, int y, int width, int height, int outWidth, int outHeight, Span<float> destination);

    /// <summary>
    /// <see cref="CropResizeArea"/> for each of <paramref name="crops"/>, patch i at
    /// destination[i * outWidth * outHeight * 3]; a crop with no area gives an all-zero patch. One call lets an
    /// implementation spread the crops over cores. <paramref name="sink"/>, when given, hears of each finished
    /// patch (possibly on a worker thread), so the caller can pack it into a batch tensor right away.
    /// </summary>
    void CropResizeAreaEach(ImageBuffer source, ReadOnlySpan<PixelRect> crops, int outWidth, int outHeight, Span<float> destination, ICropSink? sink = null)
    {
        int outLen = outWidth * outHeight * 3;
        for (int i = 0; i < crops.Length; i++)
        {
            var c = crops[i];
            var patch = destination.Slice(i * outLen, outLen);
            if (c.Width <= 0 || c.Height <= 0) patch.Clear();
            else CropResizeArea(source, c.X, c.Y, c.Width, c.Height, outWidth, outHeight, patch);
            sink?.CropReady(i, patch, 0);
        }
    }
}

/// <summary>An image file that is missing or cannot be decoded; the message names the file.</summary>
public sealed class ImageDecodeException : Exception
{
    public ImageDecodeException(string path, string problem) : base($"{path}: {problem}") { ImagePath = path; }

    public ImageDecodeException() { ImagePath = ""; }

    public ImageDecodeException(string message, Exception inner) : base(message, inner) { ImagePath = ""; }

    public string ImagePath { get; }
}

/// <summary>A pixel rectangle [X, X + Width) x [Y, Y + Height); it may reach outside the image.</summary>
public readonly record struct PixelRect(int X, int Y, int Width, int Height);

/// <summary>Hears that rows [y0, y1) of destination <c>level</c> of <see cref="IImageOps.ResizeAreaEach"/> are written.</summary>
public interface IResizeSink
{
    /// <param name="worker">The worker reporting (0 = the calling thread); distinct ranges may be reported concurrently.</param>
    void RowsReady(int level, int y0, int y1, int worker);
}

/// <summary>Hears that patch <c>index</c> of <see cref="IImageOps.CropResizeAreaEach"/> is written.</summary>
public interface ICropSink
{
    /// <param name="worker">The worker reporting (0 = the calling thread); distinct patches may be reported concurrently.</param>
    void CropReady(int index, ReadOnlySpan<float> patch, int worker);
}
