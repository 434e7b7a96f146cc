using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Evaluation;
using EdgeInspect.Core.Geometry;
using EdgeInspect.Core.Packages;
using Xunit;

namespace EdgeInspect.Core.Tests.Evaluation;

public class OperatingPointSearchTests
{
    private static readonly float[] Grid = [0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 0.8f, 0.9f];
    private static readonly DecisionSpec Decision = new() { NgClasses = ["pit"], MinRegionScore = 0.5f };

    private static ScoredPart Part(string truth, params float[] scores) => new(
        new LabelledImage($"{truth}.png", [], truth, HasBoxes: false),
        [.. scores.Select(s => new Region(new BoxF(0, 0, 10, 10), s) { ClassProbabilities = [1f] })]);

    /// <summary>
    /// Five NG parts whose strongest region scores 0.9, 0.8, 0.6, 0.4, 0.2; ten OK parts, two with a spurious region
    /// (0.7, 0.3). A region counts at a threshold t when its score is at least t.
    /// </summary>
    private static List<ScoredPart> SmallLine() =>
    [
        Part("pit", 0.9f, 0.1f), Part("pit", 0.8f), Part("pit", 0.6f), Part("pit", 0.4f), Part("pit", 0.2f),
        Part("ok", 0.7f), Part("ok", 0.3f), .. Enumerable.Range(0, 8).Select(_ => Part("ok")),
    ];

    [Fact]
    public void Sweep_SmallLabelledSet_EachThresholdDecidesEveryPartAsThePolicyWould()
    {
        var table = OperatingPointSearch.Sweep(SmallLine(), Decision, ["pit"], 1f, Grid);

        Assert.Equal(Grid, table.Select(r => r.MinRegionScore));
        Assert.Equal([0, 0, 1, 1, 2, 2, 3, 3, 4], table.Select(r => r.Outcomes.Escape.Count));
        Assert.Equal([2, 2, 2, 1, 1, 1, 1, 0, 0], table.Select(r => r.Outcomes.FalseReject.Count));
        Assert.All(table, r => Assert.Equal((5, 10), (r.Outcomes.Escape.Of, r.Outcomes.FalseReject.Of)));
    }

    [Theory]
    [InlineData(TuningTarget.LowestEscape, 0.10, 0.4f)]   // FR <= 10 % from 0.4 up; escape lowest (1 of 5) there
    [InlineData(TuningTarget.LowestEscape, 0.0, 0.8f)]    // no false reject: 0.8 (3 missed) beats 0.9 (4 missed)
    [InlineData(TuningTarget.LowestFalseReject, 0.20, 0.4f)] // escape <= 20 %: 0.1 .. 0.4; FR lowest (1 of 10) at 0.4
    [InlineData(TuningTarget.LowestFalseReject, 0.0, 0.2f)]  // no escape: 0.1 and 0.2 tie at FR 2/10: the higher wins
    public void Choose_SmallLabelledSet_PicksTheExpectedPoint(TuningTarget target, double ceiling, float expected)
    {
        var table = OperatingPointSearch.Sweep(SmallLine(), Decision, ["pit"], 1f, Grid);

        var chosen = OperatingPointSearch.Choose(table, new TuningGoal(target, ceiling));

        Assert.Equal(expected, chosen.MinRegionScore);
    }

    [Fact]
    public void Choose_NoThresholdMeetsTheCeiling_RefusesNamingTheLowestReached()
    {
        var table = OperatingPointSearch.Sweep(SmallLine(), Decision, ["pit"], 1f, [0.5f, 0.7f, 0.9f]);

        var e = Assert.Throws<TuningException>(() => OperatingPointSearch.Choose(table, new TuningGoal(TuningTarget.LowestFalseReject, 0.1)));

        Assert.Contains("no threshold in the grid keeps the escape rate at or below 10.0 %", e.Message, StringComparison.Ordinal);
        Assert.Contains("40.0 % (2 of 5", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Choose_NoOkParts_RefusesBecauseFalseRejectsCannotBeMeasured()
    {
        var table = OperatingPointSearch.Sweep([Part("pit", 0.9f), Part("pit", 0.3f)], Decision, ["pit"], 1f, Grid);

        var e = Assert.Throws<TuningException>(() => OperatingPointSearch.Choose(table, new TuningGoal(TuningTarget.LowestEscape, 0.1)));

        Assert.Contains("no OK parts", e.Message, StringComparison.Ordinal);
    }
}
