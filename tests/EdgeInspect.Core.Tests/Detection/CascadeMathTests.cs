using EdgeInspect.Core.Detection;
using EdgeInspect.Core.Packages;
using Xunit;

namespace EdgeInspect.Core.Tests.Detection;

/// <summary>Expected values are worked by hand from ipazc/mtcnn 0.1.x (__nms, __bbreg, __rerec, __pad, pyramid).</summary>
public sealed class CascadeMathTests
{
    private static Candidate Box(double x1, double y1, double x2, double y2, double score) => new(x1, y1, x2, y2, score);

    [Fact]
    public void Nms_UnionAboveThreshold_KeepsHighestScoreAndDropsOverlap()
    {
        // a and b: 10x10 inclusive (area 100) overlapping 9 columns -> inter 90, union 110, IoU 0.818.
        Candidate[] items = [Box(0, 0, 9, 9, 0.8), Box(1, 0, 10, 9, 0.9), Box(50, 50, 59, 59, 0.7)];

        int kept = CascadeMath.Nms(items, 0.5f, NmsMode.Union);

        Assert.Equal(2, kept);
        Assert.Equal(0.9, items[0].Score); // pick order: descending score
        Assert.Equal(0.7, items[1].Score);
    }

    [Fact]
    public void Nms_UnionOverlapEqualToThreshold_KeepsBoth()
    {
        // inter 5x10=50, union 150 -> 1/3; reference keeps where o <= threshold.
        Candidate[] items = [Box(0, 0, 9, 9, 0.9), Box(5, 0, 14, 9, 0.8)];

        int kept = CascadeMath.Nms(items, 1f / 3f, NmsMode.Union);

        Assert.Equal(2, kept);
    }

    [Fact]
    public void Nms_MinSmallBoxInsideLarge_DropsSmallWhereUnionKeepsIt()
    {
        // small 5x5 (area 25) fully inside large 20x20 (area 400): Union 25/400 = 0.0625, Min 25/25 = 1.
        Candidate[] union = [Box(0, 0, 19, 19, 0.95), Box(5, 5, 9, 9, 0.9)];
        Candidate[] min = [Box(0, 0, 19, 19, 0.95), Box(5, 5, 9, 9, 0.9)];

        Assert.Equal(2, CascadeMath.Nms(union, 0.7f, NmsMode.Union));
        Assert.Equal(1, CascadeMath.Nms(min, 0.7f, NmsMode.Min));
        Assert.Equal(0.95, min[0].Score);
    }

    [Fact]
    public void Nms_EqualScores_LaterCandidateWinsDeterministically()
    {
        Candidate[] items = [Box(0, 0, 9, 9, 0.9) with { Tag = 0 }, Box(0, 0, 9, 9, 0.9) with { Tag = 1 }];

        int kept = CascadeMath.Nms(items, 0.5f, NmsMode.Union);

        Assert.Equal(1, kept);
        Assert.Equal(1, items[0].Tag);
    }

    [Fact]
    public void Nms_Empty_ReturnsZero()
    {
        Assert.Equal(0, CascadeMath.Nms([], 0.5f, NmsMode.Union));
    }

    [Fact]
    public void Regress_ExclusiveWidth_UsesX2MinusX1()
    {
        var c = Box(10, 20, 30, 60, 1) with { Dx1 = 0.1, Dy1 = -0.1, Dx2 = 0.2, Dy2 = 0.5 };

        CascadeMath.Regress(ref c, inclusiveWidth: false);

        // w = 20, h = 40
        Assert.Equal(12, c.X1, 10);
        Assert.Equal(16, c.Y1, 10);
        Assert.Equal(34, c.X2, 10);
        Assert.Equal(80, c.Y2, 10);
    }

    [Fact]
    public void Regress_InclusiveWidth_UsesX2MinusX1PlusOne()
    {
        var c = Box(10, 20, 30, 60, 1) with { Dx1 = 0.1, Dy1 = -0.1, Dx2 = 0.2, Dy2 = 0.5 };

        CascadeMath.Regress(ref c, inclusiveWidth: true);

        // w = 21, h = 41
        Assert.Equal(12.1, c.X1, 10);
        Assert.Equal(15.9, c.Y1, 10);
        Assert.Equal(34.2, c.X2, 10);
        Assert.Equal(80.5, c.Y2, 10);
    }

    [Fact]
    public void Square_TallBox_BecomesSquareOfLongerSideAroundSameCentre()
    {
        var c = Box(10, 20, 30, 60, 1); // w 20, h 40

        CascadeMath.Square(ref c);

        Assert.Equal(0, c.X1, 10);
        Assert.Equal(20, c.Y1, 10);
        Assert.Equal(40, c.X2, 10);
        Assert.Equal(60, c.Y2, 10);
    }

    [Fact]
    public void Truncate_NegativeAndPositive_TruncatesTowardZeroLikeNumpyFix()
    {
        var c = Box(-3.7, 2.9, 10.5, -0.2, 1);

        CascadeMath.Truncate(ref c);

        Assert.Equal(-3, c.X1);
        Assert.Equal(2, c.Y1);
        Assert.Equal(10, c.X2);
        Assert.Equal(0, c.Y2);
    }

    [Fact]
    public void CellBox_ReferenceFormula_FixOfStrideCellOverScale()
    {
        // x1 = fix((2*cx + 1)/s), x2 = fix((2*cx + 12)/s) with s = 0.6, cx = 10, cy = 3.
        var c = CascadeMath.CellBox(10, 3, 0.6, 2, 12, 0.9);

        Assert.Equal(35, c.X1); // 21/0.6 = 35
        Assert.Equal(11, c.Y1); // 7/0.6 = 11.67
        Assert.Equal(53, c.X2); // 32/0.6 = 53.33
        Assert.Equal(30, c.Y2); // 18/0.6 = 30
    }

    [Fact]
    public void CropOf_BoxInsideImage_IsShiftedByOneAsReferencePad()
    {
        // __pad on [5, 7, 14, 16]: tmpw = 10, image rows y-1 .. ey-1 -> 0-based x 4..13, y 6..15.
        var w = CascadeMath.CropOf(Box(5, 7, 14, 16, 1), 100, 100);

        Assert.Equal((4, 6, 10, 10), (w.X, w.Y, w.Width, w.Height));
        Assert.Equal((0, 0, 10, 10), (w.PatchX, w.PatchY, w.CopyWidth, w.CopyHeight));
    }

    [Fact]
    public void CropOf_BoxOverTopLeftBorder_PadsWithZerosWherePadPutsDxDy()
    {
        // x1 = -3: __pad gives dx = 2 - x = 5 (1-based) -> patch column 4 is image column 0.
        var w = CascadeMath.CropOf(Box(-3, -1, 6, 8, 1), 50, 50);

        Assert.Equal(10, w.Width);
        Assert.Equal(4, w.PatchX);
        Assert.Equal(2, w.PatchY);
        Assert.Equal((0, 0), (w.SourceX0, w.SourceY0));
        Assert.Equal(6, w.CopyWidth);   // image columns 0..5
        Assert.Equal(8, w.CopyHeight);  // image rows 0..7
    }

    [Fact]
    public void CropOf_WithMargin_GrowsEverySideByMarginTimesSideRoundedHalfToEven()
    {
        // [5, 7, 14, 21]: 10 x 15 pixels. Margin 0.25: 2.5 -> 2 across (half to even), 3.75 -> 4 down.
        var w = CascadeMath.CropOf(Box(5, 7, 14, 21, 1), 100, 100, 0.25);

        Assert.Equal((2, 2, 14, 23), (w.X, w.Y, w.Width, w.Height));
        Assert.Equal((0, 0), (w.PatchX, w.PatchY));
    }

    [Fact]
    public void CropOf_WithMarginOverBorder_PadsTheContextOutsideTheImage()
    {
        // [1, 1, 20, 20] with margin 0.5: 10 pixels of context on each side, 10 of them left of and above the image.
        var w = CascadeMath.CropOf(Box(1, 1, 20, 20, 1), 100, 100, 0.5);

        Assert.Equal((-10, -10, 40, 40), (w.X, w.Y, w.Width, w.Height));
        Assert.Equal((10, 10), (w.PatchX, w.PatchY));
        Assert.Equal((30, 30), (w.CopyWidth, w.CopyHeight));
    }

    [Fact]
    public void CropOf_BoxOverBottomRightBorder_CopiesOnlyInsideLikePadEdxEdy()
    {
        // ex = 55 > w = 50: edx = -ex + w + tmpw = -55 + 50 + 11 = 6 -> 6 columns copied.
        var w = CascadeMath.CropOf(Box(45, 40, 55, 50, 1), 50, 48);

        Assert.Equal(11, w.Width);
        Assert.Equal(6, w.CopyWidth);
        Assert.Equal(44, w.SourceX0);
        Assert.Equal(50, w.SourceX1);
        Assert.Equal(9, w.CopyHeight); // rows 39..47
        Assert.Equal(0, w.PatchX);
    }

    [Fact]
    public void Scales_Ivan561_MatchReferencePyramid()
    {
        // reference_detections.json, ivan.jpg (561x561): 0.6 * 0.709^k for k = 0..9.
        Span<double> scales = stackalloc double[32];
        int n = CascadeMath.Scales(new PyramidSpec(), 561, 561, scales);

        Assert.Equal(10, n);
        Assert.Equal(0.6, scales[0], 15);
        Assert.Equal(0.42539999999999994, scales[1], 15);
        Assert.Equal(0.02716235162751738, scales[9], 15);
        Assert.Equal(337, CascadeMath.ScaledSize(561, scales[0]));
    }

    [Fact]
    public void Scales_ShorterSideDecides_StopsWhenScaledShorterSideBelowCell()
    {
        // 199x148 (no-faces.jpg): min layer 148 * 0.6 = 88.8 -> 6 scales while >= 12.
        Span<double> scales = stackalloc double[32];

        Assert.Equal(6, CascadeMath.Scales(new PyramidSpec(), 199, 148, scales));
        Assert.Equal(0, CascadeMath.Scales(new PyramidSpec(), 19, 500, scales));
    }

    [Fact]
    public void Scales_MaxScalesSet_CapsTheCount()
    {
        Span<double> scales = stackalloc double[32];

        Assert.Equal(3, CascadeMath.Scales(new PyramidSpec { MaxScales = 3 }, 561, 561, scales));
    }

    [Fact]
    public void Scales_ScaleFactorOutOfRange_ThrowsNamingTheKey()
    {
        var ex = Assert.Throws<ArgumentException>(() => CascadeMath.Scales(new PyramidSpec { ScaleFactor = 1.2f }, 100, 100, new double[8]));
        Assert.Contains("detector.pyramid.scaleFactor", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AsDecimalDouble_Float0709_IsTheDecimalNumpyUses()
    {
        Assert.Equal(0.709, CascadeMath.AsDecimalDouble(0.709f));
    }
    [Fact]
    public void Levels_NoAspects_OneLevelPerScaleAtExactlyThatScale()
    {
        var pyramid = new PyramidSpec { MinSize = 20, ScaleFactor = 0.709f };
        Span<double> scales = stackalloc double[32], sx = stackalloc double[32], sy = stackalloc double[32];
        int n = CascadeMath.Scales(pyramid, 640, 427, scales);

        int levels = CascadeMath.Levels(pyramid, 640, 427, scales[..n], sx, sy);

        Assert.Equal(n, levels);
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(scales[i], sx[i]); // bit for bit: the reference pyramid is untouched
            Assert.Equal(scales[i], sy[i]);
        }
    }

    [Fact]
    public void Levels_Aspects_ScaleAcrossAndDownAndDropLevelsBelowACell()
    {
        // Aspect 4: a cell covers a window 4x wider than high, so the level is squeezed across (s / 2) and stretched
        // down (s * 2). On a 200 x 200 image at scale 0.1 the squeezed side is 10 px: under a 12 px cell, left out.
        var pyramid = new PyramidSpec { MinSize = 20, ScaleFactor = 0.5f, Aspects = [0.25f, 1f, 4f] };
        Span<double> sx = stackalloc double[8], sy = stackalloc double[8];

        int levels = CascadeMath.Levels(pyramid, 200, 200, [0.6, 0.1], sx, sy);

        Assert.Equal(4, levels); // 0.6 x three aspects, then 0.1 with aspect 1 only (0.05 across or down is 10 px)
        Assert.Equal([1.2, 0.6, 0.3, 0.1], sx[..levels].ToArray());
        Assert.Equal([0.3, 0.6, 1.2, 0.1], sy[..levels].ToArray());
        var c = CascadeMath.CellBox(1, 1, 0.3, 1.2, 2, 12, 0.9); // aspect 4 at scale 0.6
        Assert.Equal((10, 2, 46, 11), ((int)c.X1, (int)c.Y1, (int)c.X2, (int)c.Y2)); // fix(3 / 0.3), fix(3 / 1.2), fix(14 / 0.3), fix(14 / 1.2)
    }

    [Theory]
    [InlineData(NmsMode.Union, 0.5f)]
    [InlineData(NmsMode.Union, 0.7f)]
    [InlineData(NmsMode.Min, 0.7f)]
    [InlineData(NmsMode.Min, 0.3f)]
    public void Nms_ManyClusteredBoxes_SamePicksAsTheReferenceLoop(NmsMode mode, float threshold)
    {
        // Boxes in clusters (as P-Net gives them), equal scores included; the compacting NMS must pick exactly
        // what the reference's loop (keep the best, drop every box above the threshold, repeat) picks.
        var rng = new Random((int)mode + (int)(threshold * 100));
        var items = new Candidate[400];
        for (int i = 0; i < items.Length; i++)
        {
            double cx = rng.Next(0, 5) * 60 + rng.NextDouble() * 20, cy = rng.Next(0, 4) * 60 + rng.NextDouble() * 20;
            double size = 12 + rng.NextDouble() * 30;
            double score = Math.Round(rng.NextDouble(), 2); // coarse: many ties
            items[i] = new Candidate(Math.Truncate(cx), Math.Truncate(cy), Math.Truncate(cx + size), Math.Truncate(cy + size), score) { Tag = i };
        }
        var expected = ReferenceNms(items, threshold, mode);
        var actual = items.ToArray();

        int kept = CascadeMath.Nms(actual, threshold, mode);

        Assert.Equal(expected, actual.Take(kept).Select(c => c.Tag).ToArray());
    }

    /// <summary>The reference's __nms: argsort ascending (stable), pick the last, keep where overlap &lt;= threshold.</summary>
    private static int[] ReferenceNms(Candidate[] boxes, float threshold, NmsMode mode)
    {
        var order = Enumerable.Range(0, boxes.Length).OrderBy(i => boxes[i].Score).ToList(); // stable
        var picks = new List<int>();
        while (order.Count > 0)
        {
            int i = order[^1];
            picks.Add(boxes[i].Tag);
            var a = boxes[i];
            double areaA = (a.X2 - a.X1 + 1) * (a.Y2 - a.Y1 + 1);
            order = order.Take(order.Count - 1).Where(j =>
            {
                var b = boxes[j];
                double w = Math.Max(0.0, Math.Min(a.X2, b.X2) - Math.Max(a.X1, b.X1) + 1);
                double h = Math.Max(0.0, Math.Min(a.Y2, b.Y2) - Math.Max(a.Y1, b.Y1) + 1);
                double inter = w * h, areaB = (b.X2 - b.X1 + 1) * (b.Y2 - b.Y1 + 1);
                double o = mode == NmsMode.Min ? inter / Math.Min(areaA, areaB) : inter / (areaA + areaB - inter);
                return o <= threshold;
            }).ToList();
        }
        return [.. picks];
    }
}
