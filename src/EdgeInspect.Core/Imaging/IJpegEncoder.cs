namespace EdgeInspect.Core.Imaging;

/// <summary>Encodes BGR pixels as JPEG (OpenCV's <c>imencode</c> on the device); called off the frame path only.</summary>
public interface IJpegEncoder
{
    /// <summary>The JPEG bytes of <paramref name="image"/> at <paramref name="quality"/> (1..100).</summary>
    byte[] Encode(ImageBuffer image, int quality);
}
