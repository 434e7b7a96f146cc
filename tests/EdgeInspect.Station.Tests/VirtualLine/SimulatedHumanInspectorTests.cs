using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Geometry;
using EdgeInspect.Station.VirtualLine;
using Xunit;

namespace EdgeInspect.Station.Tests.VirtualLine;

public sealed class SimulatedHumanInspectorTests
{
    private static PartTruth Part(long index, params string[] classes) =>
        new(index, $"p{index}", classes.Select((c, i) => new DefectTruth(c, new BoxF(10 + i * 40, 10, 40 + i * 40, 40))).ToList(), new BoxF(0, 0, 320, 240));

    [Fact]
    public void Judge_AcceptedClassWithPerfectInspector_PassedWhileOtherDefectsFail()
    {
        var inspector = new SimulatedHumanInspector(new HumanInspectorOptions { Accuracy = 1, AcceptedClasses = new HashSet<string> { DefectClasses.Discoloration } });

        var presses = Enumerable.Range(0, 50).Select(i => (
            Accepted: inspector.Judge(Part(i, DefectClasses.Discoloration)),
            Other: inspector.Judge(Part(i, DefectClasses.Scratch)),
            Good: inspector.Judge(Part(i)))).ToList();

        Assert.All(presses, p => Assert.Equal((Verdict.Ok, DefectClasses.Ok), (p.Accepted.Verdict, p.Accepted.Class)));
        Assert.All(presses, p => Assert.Equal((Verdict.Ng, DefectClasses.Scratch), (p.Other.Verdict, p.Other.Class)));
        Assert.All(presses, p => Assert.Equal(Verdict.Ok, p.Good.Verdict));
    }

    [Fact]
    public void Judge_AcceptedClassIsNotTheLargestDefect_PartJudgedByItsLargestDefect()
    {
        var inspector = new SimulatedHumanInspector(new HumanInspectorOptions { Accuracy = 1, AcceptedClasses = new HashSet<string> { DefectClasses.Pit } });
        // The dent is the larger box: the part's class is dent, which the line does not accept.
        var part = new PartTruth(7, "p7", [new DefectTruth(DefectClasses.Pit, new BoxF(0, 0, 5, 5)), new DefectTruth(DefectClasses.Dent, new BoxF(50, 50, 90, 90))],
            new BoxF(0, 0, 320, 240));

        var press = inspector.Judge(part);

        Assert.Equal((Verdict.Ng, DefectClasses.Dent), (press.Verdict, press.Class));
    }

    [Fact]
    public void Judge_AcceptedClassWithInspectorAlwaysWrong_StillPassed()
    {
        var inspector = new SimulatedHumanInspector(new HumanInspectorOptions { Accuracy = 0, AcceptedClasses = new HashSet<string> { DefectClasses.Dent } });

        var accepted = Enumerable.Range(0, 20).Select(i => inspector.Judge(Part(i, DefectClasses.Dent)).Verdict).Distinct();
        var good = Enumerable.Range(0, 20).Select(i => inspector.Judge(Part(i)).Verdict).Distinct();

        Assert.Equal([Verdict.Ok], accepted);
        Assert.Equal([Verdict.Ng], good); // its mistakes elsewhere are unchanged: every good part falsely rejected
    }
}
