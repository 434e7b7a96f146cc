using EdgeInspect.Core.Concurrency;
using Xunit;

namespace EdgeInspect.Core.Tests.Concurrency;

public sealed class BackoffTests
{
    [Theory]
    [InlineData(0, 0.5)]
    [InlineData(1, 1.0)]
    [InlineData(3, 4.0)]
    [InlineData(6, 30.0)]
    [InlineData(int.MaxValue, 30.0)]
    [InlineData(-1, 0.5)]
    public void Seconds_DoublesFromFirstUpToCap(int doublings, double expected) =>
        Assert.Equal(expected, Backoff.Seconds(doublings, 0.5, 30));

    [Fact]
    public void WithEqualJitter_BetweenHalfAndAll()
    {
        var random = new Random(3);
        for (int i = 0; i < 1000; i++)
        {
            var s = Backoff.WithEqualJitter(8, random).TotalSeconds;
            Assert.InRange(s, 4, 8);
        }
    }
}
