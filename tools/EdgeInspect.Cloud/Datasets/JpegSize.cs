using System.Buffers.Binary;

namespace EdgeInspect.Cloud.Datasets;

/// <summary>
/// A JPEG's width and height from its frame header (SOFn, ITU-T T.81 B.2.2), without decoding it: the VOC
/// annotation's &lt;size&gt; needs them and the cloud tool has no image library.
/// </summary>
public static class JpegSize
{
    /// <summary>(width, height), or null when the bytes are not a JPEG with a frame header.</summary>
    public static (int Width, int Height)? Read(ReadOnlySpan<byte> jpeg)
    {
        if (jpeg.Length < 4 || jpeg[0] != 0xFF || jpeg[1] != 0xD8) return null;
        var i = 2;
        while (i + 4 <= jpeg.Length)
        {
            if (jpeg[i] != 0xFF) return null;
            var marker = jpeg[i + 1];
            if (marker == 0xFF) { i++; continue; } // fill byte
            if (marker is 0xD8 or 0x01 or (>= 0xD0 and <= 0xD7)) { i += 2; continue; } // no length
            var length = BinaryPrimitives.ReadUInt16BigEndian(jpeg[(i + 2)..]);
            // SOF0..SOF15, except DHT (C4), JPG (C8) and DAC (CC): P(1) Y(2) X(2)
            if (marker is >= 0xC0 and <= 0xCF and not 0xC4 and not 0xC8 and not 0xCC)
            {
                if (i + 9 > jpeg.Length) return null;
                int height = BinaryPrimitives.ReadUInt16BigEndian(jpeg[(i + 5)..]);
                int width = BinaryPrimitives.ReadUInt16BigEndian(jpeg[(i + 7)..]);
                return (width, height);
            }
            if (marker == 0xDA) return null; // scan data before any frame header
            i += 2 + length;
        }
        return null;
    }
}
