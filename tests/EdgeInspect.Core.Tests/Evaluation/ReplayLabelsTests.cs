using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Evaluation;
using Xunit;

namespace EdgeInspect.Core.Tests.Evaluation;

public sealed class ReplayLabelsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-labels-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Load_Csv_ReadsOkGoodAndClassNamesByFileName()
    {
        string csv = Path.Combine(_dir, "labels.csv");
        File.WriteAllLines(csv, ["file,label", "a.png,ok", "sub/b.png,scratch", "c.png,GOOD", "", "# comment"]);

        var labels = ReplayLabels.Load(csv, ["a.png", "b.png", "c.png", "d.png"]);

        Assert.Equal(Verdict.Ok, labels["a.png"].Verdict);
        Assert.Equal(new PartLabel("scratch"), labels["b.png"]);
        Assert.Equal(Verdict.Ng, labels["b.png"].Verdict);
        Assert.Equal("ok", labels["c.png"].PartClass);
        Assert.Equal(["d.png"], ReplayLabels.Unlabelled(labels, ["/x/a.png", "/x/d.png"]));
    }

    [Theory]
    [InlineData("a.png", ":2: a.png is labelled twice")]
    [InlineData("a.png,ok,extra", ":1: expected file,label")]
    public void Load_BadCsv_RefusesNamingTheLine(string secondLine, string expected)
    {
        string csv = Path.Combine(_dir, "labels.csv");
        File.WriteAllLines(csv, secondLine == "a.png" ? ["a.png,ok", "a.png,pit"] : [secondLine]);

        var e = Assert.Throws<DatasetException>(() => ReplayLabels.Load(csv, ["a.png"]));

        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_VocFolder_FirstObjectNamesThePartAndNoObjectIsOk()
    {
        File.WriteAllText(Path.Combine(_dir, "p1.xml"),
            "<annotation><object><name>pit</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>9</xmax><ymax>9</ymax></bndbox></object>"
            + "<object><name>dent</name><bndbox><xmin>2</xmin><ymin>2</ymin><xmax>8</xmax><ymax>8</ymax></bndbox></object></annotation>");
        File.WriteAllText(Path.Combine(_dir, "p2.xml"), "<annotation></annotation>");

        var labels = ReplayLabels.Load(_dir, ["/img/p1.jpg", "/img/p2.jpg", "/img/p3.jpg"]);

        Assert.Equal("pit", labels["p1.jpg"].PartClass);
        Assert.Equal(Verdict.Ok, labels["p2.jpg"].Verdict);
        Assert.False(labels.ContainsKey("p3.jpg"));
    }

    [Fact]
    public void Load_VocObjectWithoutBox_NamesThePartItLabels()
    {
        File.WriteAllText(Path.Combine(_dir, "p1.xml"), "<annotation><object><name>crazing</name></object></annotation>");

        var labels = ReplayLabels.Load(_dir, ["/img/p1.jpg"]);

        Assert.Equal(("crazing", Verdict.Ng), (labels["p1.jpg"].PartClass, labels["p1.jpg"].Verdict));
    }
}
