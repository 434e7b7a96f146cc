using EdgeInspect.Core.Domain;
using Xunit;

namespace EdgeInspect.Core.Tests.Domain;

public class AutomationModesTests
{
    [Theory]
    [InlineData("human", AutomationMode.Human)]
    [InlineData("SHADOW", AutomationMode.Shadow)]
    [InlineData("full", AutomationMode.Full)]
    public void TryParse_KnownName_ReturnsMode(string text, AutomationMode expected)
    {
        Assert.True(AutomationModes.TryParse(text, out var mode));
        Assert.Equal(expected, mode);
    }

    [Theory]
    [InlineData("3")]
    [InlineData("auto")]
    [InlineData("")]
    [InlineData(null)]
    public void TryParse_UnknownOrNumeric_IsRefused(string? text)
    {
        Assert.False(AutomationModes.TryParse(text, out _));
    }
}
