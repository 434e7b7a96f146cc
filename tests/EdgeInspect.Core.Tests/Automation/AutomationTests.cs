using Xunit;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;

namespace EdgeInspect.Core.Tests.Automation;

public class AutomationTests
{
    private static readonly AutomationGate Gate = new(new GateOptions { MinPairedParts = 100, MinAgreementLowerBound = 0.9 });

    [Fact]
    public void Evaluate_TooFewPairs_RefusesPartialWithCount()
    {
        var d = Gate.Evaluate(AutomationMode.Partial, 50, 50);
        Assert.False(d.Allowed);
        Assert.Contains("only 50 paired parts", d.Reason);
    }

    [Fact]
    public void Evaluate_LowerBoundBelowTarget_RefusesFull()
    {
        // 92/100 agree: point estimate above 0.9 but the Wilson lower bound (~0.85) is not.
        var d = Gate.Evaluate(AutomationMode.Full, 100, 92);
        Assert.False(d.Allowed);
        Assert.Contains("lower bound", d.Reason);
    }

    [Fact]
    public void Evaluate_StrongEvidence_AllowsFull()
    {
        Assert.True(Gate.Evaluate(AutomationMode.Full, 400, 396).Allowed);
    }

    [Theory]
    [InlineData(AutomationMode.Human)]
    [InlineData(AutomationMode.Shadow)]
    [InlineData(AutomationMode.Assist)]
    public void Evaluate_LessAutomatedModes_AlwaysAllowed(AutomationMode to)
    {
        Assert.True(Gate.Evaluate(to, 0, 0).Allowed);
    }

    [Fact]
    public void Validate_BadLowerBound_NamesKey()
    {
        var e = Assert.Throws<ConfigValueException>(() => new GateOptions { MinAgreementLowerBound = 1.5 }.Validate());
        Assert.Equal("Automation:Gate:MinAgreementLowerBound", e.Key);
    }

    [Fact]
    public void Decide_ModeTable_MatchesArchitecture()
    {
        Assert.Equal(new PolicyDecision(false, false, true, false), AutomationPolicy.Decide(AutomationMode.Human, true));
        Assert.Equal(new PolicyDecision(true, false, true, false), AutomationPolicy.Decide(AutomationMode.Shadow, true));
        Assert.Equal(new PolicyDecision(true, true, true, false), AutomationPolicy.Decide(AutomationMode.Assist, true));
        Assert.True(AutomationPolicy.Decide(AutomationMode.Partial, true).ModelActuates);
        Assert.False(AutomationPolicy.Decide(AutomationMode.Partial, false).ModelActuates);
        Assert.True(AutomationPolicy.Decide(AutomationMode.Partial, false).WaitForHuman);
        Assert.True(AutomationPolicy.Decide(AutomationMode.Full, false).ModelActuates);
        Assert.False(AutomationPolicy.RunsModel(AutomationMode.Human));
    }
}
