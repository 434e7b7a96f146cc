using EdgeInspect.Core.Evaluation;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Core.Tests.Evaluation;

public sealed class LabelledDatasetTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("edgeinspect-dataset-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private void WriteVoc(string stem, string xml, bool image = true)
    {
        Directory.CreateDirectory(Path.Combine(_root, "images"));
        Directory.CreateDirectory(Path.Combine(_root, "annotations"));
        if (image) File.WriteAllBytes(Path.Combine(_root, "images", stem + ".jpg"), [0xFF, 0xD8]);
        File.WriteAllText(Path.Combine(_root, "annotations", stem + ".xml"), xml);
    }

    private static string Obj(string name, int x1, int y1, int x2, int y2) =>
        $"<object><name>{name}</name><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>";

    [Fact]
    public void Open_VocWithSplit_ReadsListedImagesAndSkipsAbsentOnes()
    {
        WriteVoc("scratches_1", $"<annotation>{Obj("scratches", 1, 2, 30, 190)}{Obj("scratches", 40, 2, 60, 100)}</annotation>");
        WriteVoc("patches_7", $"<annotation>{Obj("patches", 10, 10, 100, 100)}</annotation>");
        File.WriteAllLines(Path.Combine(_root, "val.txt"), ["scratches_1.jpg", "held_out_3.jpg"]);

        var ds = LabelledDataset.Open(_root, Path.Combine(_root, "val.txt"));

        Assert.Equal("voc", ds.Format);
        var img = Assert.Single(ds.Images);
        Assert.Equal("scratches", img.PartClass);
        Assert.Equal(2, img.Boxes.Count);
        Assert.Equal(new Geometry.BoxF(1, 2, 30, 190), img.Boxes[0].Box);
        Assert.Equal(1, ds.SkippedMissing);
    }

    [Fact]
    public void Open_VocWithBoxesOfTwoClasses_ImageClassIsTheFirstObjects()
    {
        // As pitted_surface_223.xml in NEU-DET: the image's own class first, then more boxes of another class.
        WriteVoc("pitted_surface_223", $"<annotation>{Obj("pitted_surface", 1, 1, 50, 50)}{Obj("patches", 60, 60, 90, 90)}{Obj("patches", 100, 100, 150, 150)}</annotation>");

        var img = Assert.Single(LabelledDataset.Open(_root).Images);

        Assert.Equal("pitted_surface", img.PartClass);
        Assert.Equal(3, img.Boxes.Count);
    }

    [Fact]
    public void Open_VocObjectWithoutBox_IsAnImageLevelLabelOutsideTheBoxFigures()
    {
        // A defective part whose defect nobody boxed, a good part (no objects), a boxed one.
        WriteVoc("crazing_1", "<annotation><object><name>crazing</name></object></annotation>");
        WriteVoc("good_1", "<annotation><filename>good_1.jpg</filename></annotation>");
        WriteVoc("patches_2", $"<annotation>{Obj("patches", 10, 10, 100, 100)}</annotation>");

        var images = LabelledDataset.Open(_root).Images.ToDictionary(i => Path.GetFileNameWithoutExtension(i.ImagePath));

        Assert.Equal(("crazing", true, false, 0), (images["crazing_1"].PartClass, images["crazing_1"].IsNg, images["crazing_1"].HasBoxes, images["crazing_1"].Boxes.Count));
        Assert.Equal(("ok", false, true), (images["good_1"].PartClass, images["good_1"].IsNg, images["good_1"].HasBoxes));
        Assert.Equal(("patches", true, 1), (images["patches_2"].PartClass, images["patches_2"].HasBoxes, images["patches_2"].Boxes.Count));
    }

    [Fact]
    public void Open_VocBoxWithoutCoordinate_ThrowsNamingFileAndField()
    {
        WriteVoc("bad", "<annotation><object><name>x</name><bndbox><xmin>1</xmin></bndbox></object></annotation>");

        var e = Assert.Throws<DatasetException>(() => LabelledDataset.Open(_root));

        Assert.Contains("bad.xml", e.Message, StringComparison.Ordinal);
        Assert.Contains("<ymin>", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_FolderPerClass_ReadsClassesAndMapsGoodToOk()
    {
        foreach (var (dir, file) in new[] { ("good", "a.png"), ("dent", "b.jpg"), ("dent", "c.jpg") })
        {
            Directory.CreateDirectory(Path.Combine(_root, dir));
            File.WriteAllBytes(Path.Combine(_root, dir, file), [1]);
        }

        var ds = LabelledDataset.Open(_root);

        Assert.Equal("folders", ds.Format);
        Assert.Equal(3, ds.Images.Count);
        Assert.Equal(2, ds.Images.Count(i => i.PartClass == "dent" && i.IsNg));
        Assert.Single(ds.Images, i => i.PartClass == "ok" && !i.IsNg && !i.HasBoxes);
    }

    [SharedDataFact("datasets/neu-det")]
    public void Open_NeuDetValSplit_ReadsSixClassesWithBoxes()
    {
        string neu = RepoPaths.SharedPath("datasets/neu-det");

        var ds = LabelledDataset.Open(neu, Path.Combine(neu, "val.txt"));

        Assert.True(ds.Images.Count > 100);
        Assert.Equal(6, ds.Images.Select(i => i.PartClass).Distinct().Count());
        Assert.All(ds.Images, i => Assert.NotEmpty(i.Boxes));
    }
}
