using EdgeInspect.Station.Fleet;
using EdgeInspect.Station.Fleet.Transfer;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Transfer;

public sealed class TransferOptionsTests
{
    private static FleetAgentOptions Options(Action<TransferOptions> change)
    {
        var o = new FleetAgentOptions { TrustedKeys = ["fleet.pub"] };
        change(o.Transfer);
        return o;
    }

    [Theory]
    [InlineData("MinChunkBytes")]
    [InlineData("MaxChunkCount")]
    [InlineData("MaxConcurrentTransfers")]
    [InlineData("ReserveBytes")]
    [InlineData("AbandonAfter")]
    [InlineData("QueueCapacity")]
    [InlineData("MaxArchiveEntries")]
    public void Validate_BadTransferValue_ThrowsNamingTheKey(string key)
    {
        var options = Options(t =>
        {
            switch (key)
            {
                case "MinChunkBytes": t.MinChunkBytes = 1024 * 1024; break;
                case "MaxChunkCount": t.MaxChunkCount = 10; break;
                case "MaxConcurrentTransfers": t.MaxConcurrentTransfers = 0; break;
                case "ReserveBytes": t.ReserveBytes = -1; break;
                case "AbandonAfter": t.AbandonAfter = TimeSpan.Zero; break;
                case "QueueCapacity": t.QueueCapacity = 0; break;
                case "MaxArchiveEntries": t.MaxArchiveEntries = 1; break;
            }
        });

        var ex = Assert.Throws<ArgumentException>(options.Validate);

        Assert.StartsWith($"Fleet:Transfer:{key}:", ex.Message);
    }

    [Fact]
    public void Validate_RevokedKeyNotAKeyId_ThrowsNamingTheEntry()
    {
        var options = new FleetAgentOptions { TrustedKeys = ["fleet.pub"], RevokedKeys = [new string('a', 64), "laptop"] };

        var ex = Assert.Throws<ArgumentException>(options.Validate);

        Assert.StartsWith("Fleet:RevokedKeys:1:", ex.Message);
    }
}
