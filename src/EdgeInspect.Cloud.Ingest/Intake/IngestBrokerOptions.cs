using EdgeInspect.Fleet.Protocol.Connection;
using EdgeInspect.Fleet.Protocol.Tls;
using MQTTnet;
using MQTTnet.Formatter;

namespace EdgeInspect.Cloud.Ingest.Intake;

/// <summary>
/// The connect options of the ingest's MQTT connections (the message intake and the part-image intake): both go to the
/// same broker as the same identity, so both take the same credentials and, with <see cref="IngestOptions.UseTls"/>, the
/// same certificates; a broker that accepts only TLS would otherwise refuse the one that was left out.
/// </summary>
internal static class IngestBrokerOptions
{
    /// <summary>Options for one connection with <paramref name="clientId"/>; <paramref name="tls"/> is loaded once per connection owner.</summary>
    public static MqttClientOptions Build(IngestOptions options, string clientId, BrokerTls? tls)
    {
        var b = new MqttClientOptionsBuilder()
            .WithTcpServer(options.BrokerHost, options.BrokerPort)
            .WithClientId(clientId)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart(true)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(15))
            .WithTimeout(TimeSpan.FromSeconds(5));
        if (options.Username is not null) b.WithCredentials(options.Username, options.Password);
        if (options.UseTls)
        {
            b.WithTlsOptions(t =>
            {
                t.UseTls();
                t.WithTargetHost(options.BrokerHost);
                if (tls?.ClientCertificate is { } cert) t.WithClientCertificates([cert]);
                if (tls is not null) t.WithCertificateValidationHandler(args => tls.IsTrustedBroker(args.Certificate, args.SslPolicyErrors));
            });
        }
        var built = b.Build();
        // Acks and image answers are small messages a device waits for: no Nagle delay. The intake reads every
        // device's records on this one socket, so not MQTTnet's 8 KiB buffers either.
        if (built.ChannelOptions is MqttClientTcpOptions tcp)
        {
            tcp.NoDelay = true;
            tcp.BufferSize = SocketBuffers.DefaultBytes;
        }
        return built;
    }

    /// <summary>The certificates <paramref name="options"/> name, or null without TLS.</summary>
    public static BrokerTls? LoadTls(IngestOptions options) =>
        options.UseTls ? BrokerTls.Load(options.CaFile, options.ClientCertFile, options.ClientKeyFile) : null;
}
