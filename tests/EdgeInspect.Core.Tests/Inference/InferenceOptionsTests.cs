using EdgeInspect.Core.Inference;
using Xunit;

namespace EdgeInspect.Core.Tests.Inference;

public sealed class InferenceOptionsTests
{
    [Fact]
    public void ResolvedLanes_Automatic_OnePerCoreOnCpuAndOneOnGpu()
    {
        Assert.Equal(1, new InferenceOptions().ResolvedLanes()); // one copy unless asked
        Assert.Equal(Math.Clamp(Environment.ProcessorCount, 1, 4), new InferenceOptions { Lanes = 0 }.ResolvedLanes());
        Assert.Equal(1, new InferenceOptions { Providers = ["cuda", "cpu"], Lanes = 0 }.ResolvedLanes());
        Assert.Equal(3, new InferenceOptions { Providers = ["cuda", "cpu"], Lanes = 3 }.ResolvedLanes());
    }

    [Fact]
    public void PerLane_SharesTheIntraOpThreadsOutAtLeastOneEach()
    {
        var options = new InferenceOptions { IntraOpThreads = 4 };
        Assert.Equal(2, options.PerLane(2).IntraOpThreads);
        Assert.Equal(1, options.PerLane(8).IntraOpThreads);
        Assert.Same(options, options.PerLane(1));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(17)]
    public void Validate_LanesOutOfRange_NamesTheKey(int lanes)
    {
        var ex = Assert.Throws<ArgumentException>(() => new InferenceOptions { Lanes = lanes }.Validate());
        Assert.Contains("Inference:Lanes", ex.Message, StringComparison.Ordinal);
    }
}
