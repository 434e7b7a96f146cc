using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
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

    /// <summary>Client options for <paramref name="options"/>, with the death message as the will on <paramref name="statusTopic"/>.</summary>
    public static MqttClientOptions Build(MqttUplinkOptions options, string statusTopic)
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
            .WithWillTopic(statusTopic)
            .WithWillPayload(WillPayload(options))
            .WithWillRetain(true)
            .WithWillQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithWillContentType("application/json");
        if (options.Username is not null) b.WithCredentials(options.Username, options.Password);
        if (options.UseTls) b.WithTlsOptions(tls => ConfigureTls(options, tls));
        var built = b.Build();
        // Small request / reply packets (commands, chunk acknowledgements) must not wait for Nagle's algorithm to
        // coalesce them with the next write (RFC 896; with the peer's delayed ACK that is a ~40 ms stall per round trip).
        if (built.ChannelOptions is MqttClientTcpOptions tcp) tcp.NoDelay = true;
        return built;
    }

    private static void ConfigureTls(MqttUplinkOptions options, MqttClientTlsOptionsBuilder tls)
    {
        tls.UseTls();
        tls.WithTargetHost(options.Host);
        if (options.ClientCertFile is not null && options.ClientKeyFile is not null)
        {
            var pem = X509Certificate2.CreateFromPemFile(options.ClientCertFile, options.ClientKeyFile);
            // SslStream on Linux needs a certificate whose key is not ephemeral: round-trip through PKCS#12.
            var cert = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
            tls.WithClientCertificates([cert]);
        }
        if (options.CaFile is not null)
        {
            var ca = new X509Certificate2Collection();
            ca.ImportFromPemFile(options.CaFile);
            // Trust the configured CA only (not the system store): a device should talk to its own fleet broker.
            tls.WithCertificateValidationHandler(args =>
            {
                if (args.Certificate is null) return false;
                if ((args.SslPolicyErrors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None) return false;
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                chain.ChainPolicy.CustomTrustStore.AddRange(ca);
                using var leaf = new X509Certificate2(args.Certificate);
                return chain.Build(leaf);
            });
        }
    }
}
