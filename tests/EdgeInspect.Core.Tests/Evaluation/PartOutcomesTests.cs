using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Evaluation;
using EdgeInspect.Core.Geometry;
using Xunit;

namespace EdgeInspect.Core.Tests.Evaluation;

public class PartOutcomesTests
{
    // Wilson 95 % intervals computed independently (closed form, z = 1.959964): 0/10 -> 0 .. 0.277533 (the textbook
    // "rule of three"-like upper bound), 5/10 -> 0.236593 .. 0.763407, 65/116 -> 0.469525 .. 0.647296 (the 65 of 116
    // NG test parts passed as OK in issue 19).
    [Theory]
    [InlineData(0, 10, 0.0, 0.277533)]
    [InlineData(5, 10, 0.236593, 0.763407)]
    [InlineData(65, 116, 0.469525, 0.647296)]
    public void Proportion_KnownCounts_WilsonIntervalMatchesReferenceValues(int count, int of, double lower, double upper)
    {
        var p = new Proportion(count, of);

        Assert.Equal((double)count / of, p.Rate);
        Assert.Equal(lower, p.Lower, 1e-4);
        Assert.Equal(upper, p.Upper, 1e-4);
    }

    [Fact]
    public void Proportion_NoParts_IsUnmeasuredNotZero()
    {
        var p = new Proportion(0, 0);

        Assert.Null(p.Rate);
        Assert.Equal("n/a (no parts)", p.ToText());
    }

    [Fact]
    public void Report_SmallLabelledSet_CountsEscapesFalseRejectsAndCatchPerClass()
    {
        var acc = new EvaluationAccumulator(["pit", "scratch"]);
        var box = new BoxF(0, 0, 10, 10);
        LabelledImage Part(string cls) => new("p.png", cls == "ok" ? [] : [new LabelledBox(box, cls)], cls, HasBoxes: true);
        Prediction Says(Verdict v, string cls) => new(v == Verdict.Ng ? [(box, 0.9f)] : [], cls, v);
        // 4 pits: 3 caught (one named scratch: still caught), 1 passed. 2 scratches: both passed. 5 OK: 1 rejected.
        acc.Add(Part("pit"), Says(Verdict.Ng, "pit"));
        acc.Add(Part("pit"), Says(Verdict.Ng, "pit"));
        acc.Add(Part("pit"), Says(Verdict.Ng, "scratch"));
        acc.Add(Part("pit"), Says(Verdict.Ok, "ok"));
        acc.Add(Part("scratch"), Says(Verdict.Ok, "ok"));
        acc.Add(Part("scratch"), Says(Verdict.Ok, "ok"));
        for (int i = 0; i < 4; i++) acc.Add(Part("ok"), Says(Verdict.Ok, "ok"));
        acc.Add(Part("ok"), Says(Verdict.Ng, "pit"));

        var parts = acc.Report().Parts;

        Assert.Equal(new Proportion(3, 6), parts.Escape);
        Assert.Equal(new Proportion(1, 5), parts.FalseReject);
        Assert.Equal(["pit", "scratch"], parts.CatchPerClass.Select(c => c.Class));
        Assert.Equal(new Proportion(3, 4), parts.CatchPerClass[0].Caught);
        Assert.Equal(new Proportion(0, 2), parts.CatchPerClass[1].Caught);
        string text = acc.Report().ToText();
        Assert.Contains("escape rate (NG parts passed as OK):   50.0 % (3 of 6, 95 % CI 18.8 .. 81.2 %)", text, StringComparison.Ordinal);
        Assert.Contains("false-reject rate (OK parts rejected): 20.0 % (1 of 5", text, StringComparison.Ordinal);
    }
}
