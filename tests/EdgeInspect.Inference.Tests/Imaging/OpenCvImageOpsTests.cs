using EdgeInspect.Core.Imaging;
using EdgeInspect.Imaging.OpenCv;
using Xunit;

namespace EdgeInspect.Inference.Tests.Imaging;

public sealed class OpenCvImageOpsTests
{
    private static ImageBuffer Filled(int w, int h, byte b, byte g, byte r)
    {
        var img = new ImageBuffer(w, h);
        var px = img.Pixels;
        for (int i = 0; i < px.Length; i += 3) { px[i] = b; px[i + 1] = g; px[i + 2] = r; }
        return img;
    }

    [Fact]
    public void CropResizeArea_BoxHalfOutsideLeftBorder_LeftHalfIsZeroPadding()
    {
        using var ops = new OpenCvImageOps();
        using var img = Filled(10, 10, 200, 100, 50);
        var dst = new float[4 * 2 * 3];

        // 8 wide, 4 of them left of the image; area-downscaled 2:1 to 4x2 so each output pixel is a pure 2x2 block.
        ops.CropResizeArea(img, -4, 2, 8, 4, 4, 2, dst);

        for (int y = 0; y < 2; y++)
        {
            for (int x = 0; x < 4; x++)
            {
                int o = ((y * 4) + x) * 3;
                float expectedB = x < 2 ? 0 : 200;
                Assert.Equal(expectedB, dst[o]);
                Assert.Equal(x < 2 ? 0 : 50, dst[o + 2]);
            }
        }
    }

    [Fact]
    public void CropResizeArea_SameSizeInside_CopiesExactPixelsAsFloats()
    {
        using var ops = new OpenCvImageOps();
        using var img = new ImageBuffer(6, 5);
        for (int i = 0; i < img.Length; i++) img.Pixels[i] = (byte)i;
        var dst = new float[2 * 2 * 3];

        ops.CropResizeArea(img, 3, 2, 2, 2, 2, 2, dst);

        // (x=3, y=2) is byte offset (2*6 + 3) * 3 = 45.
        Assert.Equal([45f, 46f, 47f, 48f, 49f, 50f], dst[..6]);
    }

    [Fact]
    public void ResizeArea_IntegerFactor_AveragesBlocks()
    {
        using var ops = new OpenCvImageOps();
        using var src = new ImageBuffer(4, 2);
        var px = src.Pixels;
        for (int x = 0; x < 4; x++)
        {
            for (int y = 0; y < 2; y++) px[((y * 4) + x) * 3] = (byte)(x < 2 ? 10 : 30);
        }
        using var dst = new ImageBuffer(2, 1);

        ops.ResizeArea(src, dst);

        Assert.Equal(10, dst.Pixels[0]);
        Assert.Equal(30, dst.Pixels[3]);
    }

    [Fact]
    public void Decode_MissingFile_ThrowsNamingTheFile()
    {
        using var ops = new OpenCvImageOps();
        var path = Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.png");

        var ex = Assert.Throws<ImageDecodeException>(() => ops.Decode(path));

        Assert.Equal(path, ex.ImagePath);
        Assert.Contains("not found", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_TextFile_ThrowsNotReadableImage()
    {
        using var ops = new OpenCvImageOps();
        var path = Path.Combine(Path.GetTempPath(), $"text-{Guid.NewGuid():N}.png");
        File.WriteAllText(path, "hello");
        try
        {
            var ex = Assert.Throws<ImageDecodeException>(() => ops.Decode(path));
            Assert.Contains("not a readable image", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
