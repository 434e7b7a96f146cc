using EdgeInspect.Core.Telemetry;
using Xunit;

namespace EdgeInspect.Core.Tests.Telemetry;

public sealed class AlarmEvaluatorTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);

    private static AlarmEvaluator Cpu() => new([new AlarmRule { Name = "cpu-high", Metric = "cpuPercent", Direction = "above", Raise = 90, Clear = 80 }]);

    private static IReadOnlyList<AlarmTransition> Eval(AlarmEvaluator e, double? value, int i = 0) =>
        e.Evaluate(value is { } v ? new Dictionary<string, double> { ["cpuPercent"] = v } : new Dictionary<string, double>(), T0.AddSeconds(i));

    [Fact]
    public void Evaluate_CrossingRaiseValue_RaisesOnceWhileAbove()
    {
        var e = Cpu();
        Assert.Empty(Eval(e, 50));
        var raised = Assert.Single(Eval(e, 91));
        Assert.True(raised.Raised);
        Assert.Equal("alarm.raised", raised.Kind);
        Assert.Equal("cpu-high", raised.Name);
        Assert.Equal(91, raised.Value);
        Assert.Empty(Eval(e, 95));
        Assert.Empty(Eval(e, 99));
        Assert.Equal(["cpu-high"], e.Active);
    }

    [Fact]
    public void Evaluate_NoiseAroundThreshold_NoFlapping()
    {
        var e = Cpu();
        // hovering around the raise value 90, never down to the clear value 80
        double[] noisy = [89, 91, 88.5, 90.2, 85, 92, 81, 89.9, 90, 80.1, 93];
        var transitions = noisy.SelectMany((v, i) => Eval(e, v, i)).ToList();
        var only = Assert.Single(transitions);
        Assert.True(only.Raised);
        Assert.Equal(91, only.Value);
    }

    [Fact]
    public void Evaluate_BackPastClearValue_ClearsOnceAndCanRaiseAgain()
    {
        var e = Cpu();
        Assert.True(Assert.Single(Eval(e, 95)).Raised);
        Assert.Empty(Eval(e, 85)); // below the raise value but not past the clear value: still raised
        var cleared = Assert.Single(Eval(e, 79));
        Assert.False(cleared.Raised);
        Assert.Equal("alarm.cleared", cleared.Kind);
        Assert.Empty(e.Active);
        Assert.Empty(Eval(e, 70));
        Assert.Empty(Eval(e, 89)); // between the two: stays clear
        Assert.True(Assert.Single(Eval(e, 90)).Raised);
    }

    [Fact]
    public void Evaluate_BelowRule_MirrorsAboveAndMissingMetricKeepsState()
    {
        var e = new AlarmEvaluator([new AlarmRule { Metric = "frameRate", Direction = "below", Raise = 5, Clear = 8 }]);
        Dictionary<string, double> M(double v) => new() { ["frameRate"] = v };
        Assert.Empty(e.Evaluate(M(10), T0));
        Assert.True(Assert.Single(e.Evaluate(M(4), T0)).Raised);
        Assert.Empty(e.Evaluate(new Dictionary<string, double>(), T0)); // no value this interval: unchanged
        Assert.Empty(e.Evaluate(M(7), T0));
        Assert.False(Assert.Single(e.Evaluate(M(8), T0)).Raised);
        Assert.Equal("frameRate-below", e.Evaluate(M(1), T0)[0].Name);
    }

    [Fact]
    public void Restore_ActiveFromAuditTrail_NoSecondRaise()
    {
        var e = Cpu();
        e.Restore(["cpu-high", "unknown-alarm"]);
        Assert.Empty(Eval(e, 95));
        Assert.False(Assert.Single(Eval(e, 10)).Raised);
    }

    [Theory]
    [InlineData("above", 80, 90, "Telemetry:Alarms:0:Clear")]
    [InlineData("below", 10, 5, "Telemetry:Alarms:0:Clear")]
    [InlineData("sideways", 10, 5, "Telemetry:Alarms:0:Direction")]
    public void Options_ClearOnWrongSide_RejectedNamingTheKey(string direction, double raise, double clear, string key)
    {
        var options = new TelemetryOptions { Alarms = [new AlarmRule { Metric = "cpuPercent", Direction = direction, Raise = raise, Clear = clear }] };
        var ex = Assert.Throws<InvalidOperationException>(options.Validate);
        Assert.StartsWith(key, ex.Message);
    }
}
