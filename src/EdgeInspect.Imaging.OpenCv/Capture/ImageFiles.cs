using EdgeInspect.Core.Imaging;
using OpenCvSharp;

namespace EdgeInspect.Imaging.OpenCv.Capture;

/// <summary>Reads and writes BGR24 image files through OpenCV's imgcodecs (format chosen by extension).</summary>
public static class ImageFiles
{
    /// <summary>Writes <paramref name="image"/> to <paramref name="path"/> (e.g. .png); throws IOException when OpenCV refuses.</summary>
    public static void Write(string path, ImageBuffer image)
    {
        // Wraps the pooled array without copying: the Mat header points into our pixels for the call only.
        using var mat = Mat.FromPixelData(image.Height, image.Width, MatType.CV_8UC3, image.Array, image.Stride);
        if (!Cv2.ImWrite(path, mat)) throw new IOException($"{path}: OpenCV could not write the image (unknown extension or unwritable folder)");
    }

    /// <summary>Reads a colour image into <paramref name="target"/> (reshaped to the file's size).</summary>
    public static void Read(string path, ImageBuffer target)
    {
        using var mat = Cv2.ImRead(path, ImreadModes.Color);
        if (mat.Empty()) throw new IOException($"{path}: not a readable image");
        CopyFrom(mat, target);
    }

    /// <summary>Copies an 8-bit BGR Mat (continuous or not) into a pooled buffer.</summary>
    public static void CopyFrom(Mat mat, ImageBuffer target)
    {
        if (mat.Type() != MatType.CV_8UC3) throw new ArgumentException($"expected an 8-bit BGR image, got {mat.Type()}", nameof(mat));
        int width = mat.Width, height = mat.Height; // each property is a P/Invoke: read once
        target.Reshape(width, height);
        int rowBytes = target.Stride;
        var dst = target.Pixels;
        for (int y = 0; y < height; y++)
        {
            unsafe
            {
                var src = new ReadOnlySpan<byte>((void*)mat.Ptr(y), rowBytes);
                src.CopyTo(dst.Slice(y * rowBytes, rowBytes));
            }
        }
    }
}
