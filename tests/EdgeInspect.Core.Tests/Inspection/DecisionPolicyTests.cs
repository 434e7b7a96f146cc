using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Geometry;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Core.Packages;
using Xunit;

namespace EdgeInspect.Core.Tests.Inspection;

public class DecisionPolicyTests
{
    private static readonly string[] Classes = ["scratch", "dent", "stain"];

    private static Region R(float score, params float[] probs) => new(new BoxF(0, 0, 10, 10), score) { ClassProbabilities = probs };

    private static DecisionPolicy Policy(float minScore = 0.5f) => new(new DecisionSpec
    {
        NgClasses = ["scratch", "dent"],
        MinRegionScore = minScore,
        ActThresholds = new() { ["dent"] = 0.6f },
        DefaultActThreshold = 0.9f,
    }, Classes);

    [Fact]
    public void Decide_WholeFrameRegion_CountsDespiteItsScoreAndWeighsByTheManifestWeight()
    {
        var spec = new DecisionSpec { NgClasses = ["scratch", "dent"], MinRegionScore = 0.5f };
        var frame = new Region(new BoxF(0, 0, 200, 200), 0f) { ClassProbabilities = [0.1f, 0.9f, 0f], WholeFrame = true };
        var regions = new[] { R(0.9f, 1, 0, 0), R(0.9f, 1, 0, 0), frame }; // two boxes say scratch (1.8), the frame says dent

        Assert.Equal("scratch", new DecisionPolicy(spec, Classes, wholeImageWeight: 1f).Decide(regions).PartClass);
        var heavy = new DecisionPolicy(spec, Classes, wholeImageWeight: 4f).Decide(regions); // 4 x 0.9 = 3.6 > 1.8 + 0.4
        Assert.Equal("dent", heavy.PartClass);
        Assert.Equal(Verdict.Ng, heavy.Verdict);
        // Alone, with no detection at all, the frame still names the class (and makes the part NG).
        Assert.Equal(new Decision(Verdict.Ng, 0.9f, "dent", true), new DecisionPolicy(spec, Classes).Decide([frame])); // 0.9 >= the default act threshold 0.9
    }

    [Fact]
    public void Decide_NoRegions_OkWithFullConfidence()
    {
        var d = Policy().Decide([]);

        Assert.Equal(new Decision(Verdict.Ok, 1f, "ok", true), d);
    }

    [Fact]
    public void Decide_RegionsBelowMinScore_OkWithConfidenceFromStrongestIgnored()
    {
        var d = Policy().Decide([R(0.3f, 1, 0, 0)]);

        Assert.Equal(Verdict.Ok, d.Verdict);
        Assert.Equal(0.7f, d.Confidence, 5);
        Assert.False(d.MeetsActThreshold);
    }

    [Fact]
    public void Decide_SummedEvidence_PicksClassWithMostEvidenceAcrossRegions()
    {
        // One strong scratch region against two medium dent regions: dent has more summed evidence.
        var d = Policy().Decide([R(0.9f, 0.9f, 0.1f, 0), R(0.8f, 0, 1, 0), R(0.8f, 0.1f, 0.9f, 0)]);

        Assert.Equal(Verdict.Ng, d.Verdict);
        Assert.Equal("dent", d.PartClass);
        Assert.Equal(0.81f, d.Confidence, 5);
        Assert.True(d.MeetsActThreshold); // dent acts at 0.6
    }

    [Fact]
    public void Decide_OnlyToleratedClass_OkNamedAfterIt()
    {
        var d = Policy().Decide([R(0.95f, 0.1f, 0.1f, 0.8f)]);

        Assert.Equal(Verdict.Ok, d.Verdict);
        Assert.Equal("stain", d.PartClass);
        Assert.Equal(0.8f, d.Confidence, 5);
        Assert.False(d.MeetsActThreshold); // default 0.9
    }

    [Fact]
    public void Decide_NgRegionBesideStrongerToleratedEvidence_NgNamedAfterNgClass()
    {
        var d = Policy().Decide([R(0.99f, 0, 0, 1), R(0.99f, 0, 0, 1), R(0.7f, 0.9f, 0, 0.1f)]);

        Assert.Equal(Verdict.Ng, d.Verdict);
        Assert.Equal("scratch", d.PartClass);
    }

    [Fact]
    public void Decide_NoClassifierAndEmptyNgClasses_AnyRegionIsNgDefect()
    {
        var policy = new DecisionPolicy(new DecisionSpec { MinRegionScore = 0.5f, DefaultActThreshold = 0.5f }, []);

        var d = policy.Decide([new Region(new BoxF(0, 0, 5, 5), 0.8f)]);

        Assert.Equal(new Decision(Verdict.Ng, 0.8f, DecisionPolicy.DefectClass, true), d);
    }
}
