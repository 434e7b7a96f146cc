using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Station.VirtualLine;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Station.Tests.VirtualLine;

public class VirtualLineTests
{
    [Fact]
    public void Render_SameSeedAndIndex_SamePixelsAndTruth()
    {
        var a = new PartRenderer(new PartRendererOptions { Seed = 5 });
        var b = new PartRenderer(new PartRendererOptions { Seed = 5 });
        using var ia = new ImageBuffer(320, 240);
        using var ib = new ImageBuffer(320, 240);
        for (int i = 0; i < 10; i++)
        {
            var ta = a.Render(i, ia);
            var tb = b.Render(i, ib);
            Assert.True(ia.Pixels.SequenceEqual(ib.Pixels));
            Assert.Equal(ta.Defects, tb.Defects);
        }
    }

    [Fact]
    public void Render_DifferentSeeds_DifferentImages()
    {
        using var ia = new ImageBuffer(320, 240);
        using var ib = new ImageBuffer(320, 240);
        new PartRenderer(new PartRendererOptions { Seed = 1 }).Render(0, ia);
        new PartRenderer(new PartRendererOptions { Seed = 2 }).Render(0, ib);
        Assert.False(ia.Pixels.SequenceEqual(ib.Pixels));
    }

    [Trait(TestCategories.Name, TestCategories.Slow)]
    [Fact]
    public void Render_ManyParts_BoxesOnPlateSizedAndDefectRateHeld()
    {
        var r = new PartRenderer(new PartRendererOptions { Seed = 3, DefectRate = 0.5 });
        using var img = new ImageBuffer(320, 240);
        int ng = 0;
        var classes = new HashSet<string>();
        for (int i = 0; i < 400; i++)
        {
            var t = r.Render(i, img);
            if (t.Verdict == Verdict.Ng) ng++;
            foreach (var d in t.Defects)
            {
                classes.Add(d.ClassName);
                Assert.InRange(d.Box.Width, PartRenderer.MinDefectSize, 110);
                Assert.InRange(d.Box.Height, PartRenderer.MinDefectSize, 110);
                Assert.True(d.Box.X1 >= t.Plate.X1 && d.Box.X2 <= t.Plate.X2 && d.Box.Y1 >= t.Plate.Y1 && d.Box.Y2 <= t.Plate.Y2, $"part {i}: {d} off plate {t.Plate}");
            }
        }
        Assert.InRange(ng, 160, 240);
        Assert.Equal(DefectClasses.All.OrderBy(c => c), classes.OrderBy(c => c));
    }

    [Fact]
    public void Render_DefectivePart_PixelsDifferInsideBoxFromCleanRender()
    {
        // The defect is really painted inside its ground-truth box: the same part rendered with defect rate 0
        // (same scene seed stream up to the defect draw) differs there.
        var withDefects = new PartRenderer(new PartRendererOptions { Seed = 9, DefectRate = 1 });
        var clean = new PartRenderer(new PartRendererOptions { Seed = 9, DefectRate = 0 });
        using var a = new ImageBuffer(320, 240);
        using var b = new ImageBuffer(320, 240);
        var t = withDefects.Render(4, a);
        clean.Render(4, b);
        var box = t.Defects[0].Box;
        long diff = 0;
        for (int y = (int)box.Y1; y < (int)box.Y2; y++)
            for (int x = (int)box.X1; x < (int)box.X2; x++)
                for (int c = 0; c < 3; c++) diff += Math.Abs(a.Pixels[(y * 320 + x) * 3 + c] - b.Pixels[(y * 320 + x) * 3 + c]);
        Assert.True(diff > 500, $"defect box {box} differs by only {diff}");
    }

    [Fact]
    public void Write_Dataset_VocFilesAndStratifiedSplit()
    {
        string dir = Directory.CreateTempSubdirectory("ei-vl-").FullName;
        try
        {
            var r = new PartRenderer(new PartRendererOptions { Seed = 2, DefectRate = 0.5 });
            int saved = 0;
            var summary = VirtualLineDataset.Write(r, dir, 60, (path, img) => { File.WriteAllBytes(path, img.Pixels.ToArray()); saved++; });
            Assert.Equal(60, saved);
            var train = File.ReadAllLines(Path.Combine(dir, "train.txt"));
            var val = File.ReadAllLines(Path.Combine(dir, "val.txt"));
            Assert.Equal(60, train.Length + val.Length);
            Assert.Empty(train.Intersect(val));
            Assert.InRange(val.Length, 8, 16);
            var doc = System.Xml.Linq.XDocument.Load(Path.Combine(dir, "annotations", "part_000004.xml"));
            var truth = r.Render(4, new ImageBuffer(320, 240));
            var objects = doc.Root!.Elements("object").ToList();
            Assert.Equal(truth.Defects.Count, objects.Count);
            for (int i = 0; i < objects.Count; i++)
            {
                Assert.Equal(truth.Defects[i].ClassName, objects[i].Element("name")!.Value);
                Assert.Equal((int)truth.Defects[i].Box.X1 + 1, int.Parse(objects[i].Element("bndbox")!.Element("xmin")!.Value));
                Assert.Equal((int)truth.Defects[i].Box.Y2, int.Parse(objects[i].Element("bndbox")!.Element("ymax")!.Value));
            }
        }
        finally { Directory.Delete(dir, recursive: true); }
    }
}
