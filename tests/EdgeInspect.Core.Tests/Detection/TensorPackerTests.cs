using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Packages;
using Xunit;

namespace EdgeInspect.Core.Tests.Detection;

public sealed class TensorPackerTests
{
    // A 3 (wide) x 2 (high) BGR image; pixel (x, y) has B = 10x + y, G = 100 + .., R = 200 + ..
    private static byte[] Image()
    {
        var px = new byte[3 * 2 * 3];
        for (int y = 0; y < 2; y++)
        {
            for (int x = 0; x < 3; x++)
            {
                int o = ((y * 3) + x) * 3;
                px[o] = (byte)((10 * x) + y);
                px[o + 1] = (byte)(100 + (10 * x) + y);
                px[o + 2] = (byte)(200 + (10 * x) + y);
            }
        }
        return px;
    }

    [Fact]
    public void Pack_NwhcRgb_SwapsWidthAndHeightAndChannelsAndNormalises()
    {
        var packer = new TensorPacker(new InputSpec { Layout = "NWHC", Channels = "RGB", Mean = [127.5f], Scale = 0.0078125f });
        var tensor = new float[18];

        packer.Pack(Image(), 3, 2, tensor, 0);

        // [1, W=3, H=2, 3]: element (x=2, y=1) is at (2*2 + 1) * 3; channel 0 is R = 221.
        int o = ((2 * 2) + 1) * 3;
        Assert.Equal((221 - 127.5f) * 0.0078125f, tensor[o]);
        Assert.Equal((121 - 127.5f) * 0.0078125f, tensor[o + 1]);
        Assert.Equal((21 - 127.5f) * 0.0078125f, tensor[o + 2]);
    }

    [Fact]
    public void Pack_NchwBgrPerChannelMean_PlanesInChannelOrder()
    {
        var packer = new TensorPacker(new InputSpec { Layout = "NCHW", Channels = "BGR", Mean = [1, 2, 3], Scale = 0.5f });
        var tensor = new float[2 * 18];

        packer.Pack(Image(), 3, 2, tensor, 1);

        // second sample, channel 1 (G) plane, (x=1, y=1): G = 111 -> (111 - 2) * 0.5.
        Assert.Equal((111 - 2) * 0.5f, tensor[18 + (1 * 6) + (1 * 3) + 1]);
    }

    [Fact]
    public void Pack_FloatAndByteInput_GiveIdenticalTensors()
    {
        var spec = new InputSpec { Layout = "NHWC", Channels = "RGB" };
        var packer = new TensorPacker(spec);
        var bytes = Image();
        var floats = bytes.Select(b => (float)b).ToArray();
        var a = new float[18];
        var b = new float[18];

        packer.Pack(bytes, 3, 2, a, 0);
        packer.Pack(floats, 3, 2, b, 0);

        Assert.Equal(a, b);
    }

    [Theory]
    [InlineData("NWHC", "RGB")]
    [InlineData("NWHC", "BGR")]
    [InlineData("NHWC", "RGB")]
    [InlineData("NCHW", "BGR")]
    [InlineData("NCHW", "RGB")]
    public void Pack_EveryLayout_PutsEachValueAtItsOffset_ByteRowsAndFloatsAlike(string layout, string channels)
    {
        // The fast paths (pointer loops walking each layout in its own order) against the one-line definition:
        // value (x, y, c) = (pixel[x, y, source channel of c] - mean[c]) * scale at Offset(x, y, c).
        const int W = 7, H = 5;
        var spec = new InputSpec { Layout = layout, Channels = channels, Mean = [1.5f, 2.5f, 3.5f], Scale = 0.25f };
        var packer = new TensorPacker(spec);
        var px = new byte[W * H * 3];
        new Random(3).NextBytes(px);
        var floats = px.Select(b => (float)b).ToArray();
        int[] source = channels == "RGB" ? [2, 1, 0] : [0, 1, 2];
        var expected = new float[2 * W * H * 3];
        for (int y = 0; y < H; y++)
        {
            for (int x = 0; x < W; x++)
            {
                for (int c = 0; c < 3; c++)
                {
                    expected[(W * H * 3) + packer.Offset(x, y, c, W, H)] = (px[(((y * W) + x) * 3) + source[c]] - spec.Mean[c]) * 0.25f;
                }
            }
        }
        var fromRows = new float[expected.Length];
        packer.PackRows(px, W, H, fromRows, 1, 0, 2); // rows in two calls, as the pyramid reports them
        packer.PackRows(px, W, H, fromRows, 1, 2, H);
        var fromFloats = new float[expected.Length];
        packer.Pack(floats, W, H, fromFloats, 1);

        Assert.Equal(expected, fromRows);
        Assert.Equal(expected, fromFloats);
    }

    [Fact]
    public void ShapeFor_EachLayout_PutsWidthAndHeightWhereTheLayoutSays()
    {
        Span<long> s = stackalloc long[4];
        new TensorPacker(new InputSpec { Layout = "NWHC" }).ShapeFor(7, 30, 20, s);
        Assert.Equal([7L, 30, 20, 3], s.ToArray());
        new TensorPacker(new InputSpec { Layout = "NHWC" }).ShapeFor(7, 30, 20, s);
        Assert.Equal([7L, 20, 30, 3], s.ToArray());
        new TensorPacker(new InputSpec { Layout = "NCHW", Channels = "GRAY", Mean = [0] }).ShapeFor(7, 30, 20, s);
        Assert.Equal([7L, 1, 20, 30], s.ToArray());
    }

    [Fact]
    public void Ctor_UnknownLayout_ThrowsNamingTheField()
    {
        var ex = Assert.Throws<ArgumentException>(() => new TensorPacker(new InputSpec { Layout = "NCWH" }));
        Assert.Contains("input.layout", ex.Message, StringComparison.Ordinal);
    }
}
