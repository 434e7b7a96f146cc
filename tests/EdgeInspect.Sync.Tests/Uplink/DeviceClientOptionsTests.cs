using EdgeInspect.Sync.Mqtt;
using MQTTnet;
using Xunit;

namespace EdgeInspect.Sync.Tests.Uplink;

/// <summary>The device's CONNECT and socket options come from <see cref="MqttUplinkOptions"/>, not MQTTnet's defaults.</summary>
public sealed class DeviceClientOptionsTests
{
    private static MqttUplinkOptions Options() => new() { Host = "127.0.0.1", DeviceId = "dev-1" };

    [Fact]
    public void Build_Defaults_SocketBuffersAndReceiveMaximumReplaceMqttnetsDefaults()
    {
        var built = DeviceClientOptions.Build(Options(), "edgeinspect/dev-1/status", null);

        var tcp = Assert.IsType<MqttClientTcpOptions>(built.ChannelOptions);
        Assert.Equal(256 * 1024, tcp.BufferSize);
        Assert.NotEqual(new MqttClientTcpOptions().BufferSize, tcp.BufferSize);
        Assert.True(tcp.NoDelay);
        Assert.Equal(32, built.ReceiveMaximum);
    }

    [Fact]
    public void Build_Configured_ValuesPassedThrough()
    {
        var options = Options();
        options.SocketBufferBytes = 64 * 1024;
        options.ReceiveMaximum = 5;

        var built = DeviceClientOptions.Build(options, "edgeinspect/dev-1/status", null);

        Assert.Equal(64 * 1024, Assert.IsType<MqttClientTcpOptions>(built.ChannelOptions).BufferSize);
        Assert.Equal(5, built.ReceiveMaximum);
    }

    [Theory]
    [InlineData(nameof(MqttUplinkOptions.SocketBufferBytes), 8192)]
    [InlineData(nameof(MqttUplinkOptions.SocketBufferBytes), 32 * 1024 * 1024)]
    [InlineData(nameof(MqttUplinkOptions.ReceiveMaximum), 0)]
    [InlineData(nameof(MqttUplinkOptions.ReceiveMaximum), 65536)]
    public void Validate_OutOfRange_RefusedNamingTheKey(string key, int value)
    {
        var options = Options();
        typeof(MqttUplinkOptions).GetProperty(key)!.SetValue(options, value);

        var e = Assert.Throws<InvalidOperationException>(options.Validate);
        Assert.StartsWith($"{MqttUplinkOptions.SectionName}:{key}: ", e.Message);
    }
}
