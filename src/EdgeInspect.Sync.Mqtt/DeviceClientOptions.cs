using System.Text.Json;
using EdgeInspect.Fleet.Protocol.Tls;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace EdgeInspect.Sync.Mqtt;

/// <summary>The device's CONNECT: MQTT 5, clean start, its last will (the death message), credentials and TLS.</summary>
internal static class DeviceClientOptions
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The death message is built once per CONNECT; it cannot know the time of death, so it carries none.</summary>
    private static byte[] WillPayload(MqttUplinkOptions options) =>
        JsonSerializer.SerializeToUtf8Bytes(new { state = "offline", deviceId = options.DeviceId, reason = "connection lost" }, Json);

    /// <summary>
    /// Client options for <paramref name="options"/>, with the death message as the will on <paramref name="statusTopic"/>;
    /// with <see cref="MqttUplinkOptions.UseTls"/>, <paramref name="tls"/> holds the CA and client certificate to use.
    /// </summary>
    public static MqttClientOptions Build(MqttUplinkOptions options, string statusTopic, BrokerTls? tls)
    {
        var b = new MqttClientOptionsBuilder()
            .WithTcpServer(options.Host, options.Port)
            // Not WithoutPacketFragmentation(): the drain meets its target without it, and the outage and status tests
            // run with fragmentation on (records lost at a broker kill are OutboxUplink's replay's business, not this).
            .WithClientId(options.EffectiveClientId)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart(true)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(options.KeepAliveSeconds))
            .WithTimeout(TimeSpan.FromSeconds(options.ConnectTimeoutSeconds))
            .WithMaximumPacketSize((uint)(options.MaxPayloadBytes + 64 * 1024))
            .WithReceiveMaximum((ushort)options.ReceiveMaximum)
            .WithWillTopic(statusTopic)
            .WithWillPayload(WillPayload(options))
            .WithWillRetain(true)
            .WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithWillContentType("application/json");
        if (options.Username is not null) b.WithCredentials(options.Username, options.Password);
        if (options.UseTls) b.WithTlsOptions(t => ConfigureTls(options, tls, t));
        var built = b.Build();
        // Small request / reply packets (commands, chunk acknowledgements) must not wait for Nagle's algorithm to
        // coalesce them with the next write (RFC 896; with the peer's delayed ACK that is a ~40 ms stall per round trip).
        // MQTTnet's 8 KiB socket buffers are replaced: see MqttUplinkOptions.SocketBufferBytes.
        if (built.ChannelOptions is MqttClientTcpOptions tcp)
        {
            tcp.NoDelay = true;
            tcp.BufferSize = options.SocketBufferBytes;
        }
        return built;
    }

    private static void ConfigureTls(MqttUplinkOptions options, BrokerTls? tls, MqttClientTlsOptionsBuilder b)
    {
        b.UseTls();
        b.WithTargetHost(options.Host);
        if (tls?.ClientCertificate is { } cert) b.WithClientCertificates([cert]);
        if (tls is not null) b.WithCertificateValidationHandler(args => tls.IsTrustedBroker(args.Certificate, args.SslPolicyErrors));
    }
}
