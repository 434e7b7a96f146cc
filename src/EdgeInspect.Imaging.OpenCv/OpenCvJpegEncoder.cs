using System.Runtime.InteropServices;
using EdgeInspect.Core.Imaging;
using OpenCvSharp;

namespace EdgeInspect.Imaging.OpenCv;

/// <summary>JPEG through OpenCV's <c>imencode</c>, over the pooled pixels in place (no copy into a Mat of its own).</summary>
public sealed class OpenCvJpegEncoder : IJpegEncoder
{
    /// <inheritdoc/>
    public byte[] Encode(ImageBuffer image, int quality)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfLessThan(quality, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(quality, 100);
        var handle = GCHandle.Alloc(image.Array, GCHandleType.Pinned);
        try
        {
            using var mat = Mat.FromPixelData(image.Height, image.Width, MatType.CV_8UC3, handle.AddrOfPinnedObject(), image.Stride);
            // OpenCvSharp raises OpenCVException when imencode fails.
            Cv2.ImEncode(".jpg", mat, out var jpeg, new ImageEncodingParam(ImwriteFlags.JpegQuality, quality));
            return jpeg;
        }
        finally { handle.Free(); }
    }
}
