using System.CommandLine;
using EdgeInspect.Fleet.Protocol.Connection;
using EdgeInspect.Fleet.Protocol.Tls;
using MQTTnet;
using MQTTnet.Formatter;

namespace EdgeInspect.Fleet.Connection;

/// <summary>
/// How edgeinspect-fleet reaches the broker: <c>--broker host:port</c> and, for the EdgeInspect broker
/// (device-config/broker: TLS, client certificates, ACL), <c>--tls-ca</c>, <c>--tls-cert</c> and <c>--tls-key</c>: the
/// fleet CA and the fleet identity's certificate (CN <c>fleet</c>), which the broker's ACL lets write commands and
/// packages and read replies and status. The operator key that signs commands is <c>--key</c>, a different thing: the
/// certificate decides what the broker lets through, the operator key what a device does.
/// </summary>
internal sealed class BrokerConnectionOptions
{
    public Option<string> Broker { get; } = new("--broker") { Description = "host:port of the MQTT broker", DefaultValueFactory = _ => "127.0.0.1:1883" };
    public Option<string?> TlsCa { get; } = new("--tls-ca") { Description = "PEM CA certificate the broker's certificate must chain to (turns TLS on)" };
    public Option<string?> TlsCert { get; } = new("--tls-cert") { Description = "PEM client certificate (the fleet identity; with --tls-key; turns TLS on)" };
    public Option<string?> TlsKey { get; } = new("--tls-key") { Description = "PEM private key of --tls-cert" };

    /// <summary>Adds these options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Options.Add(Broker);
        command.Options.Add(TlsCa);
        command.Options.Add(TlsCert);
        command.Options.Add(TlsKey);
    }

    /// <summary>
    /// The MQTT 5 client options for this invocation, and the TLS material they hold (dispose it after the connection).
    /// Every file is read here, before connecting: a missing or mismatched one is a <see cref="UsageException"/> naming its option.
    /// </summary>
    public (MqttClientOptions Options, BrokerTls? Tls, string Endpoint) Build(ParseResult r, string clientId)
    {
        var broker = r.GetValue(Broker)!;
        var colon = broker.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(broker.AsSpan(colon + 1), out var port) || port is < 1 or > 65535)
            throw new UsageException($"--broker '{broker}' is not host:port");
        var host = broker[..colon];
        string? ca = r.GetValue(TlsCa), cert = r.GetValue(TlsCert), key = r.GetValue(TlsKey);
        var b = new MqttClientOptionsBuilder().WithTcpServer(host, port).WithProtocolVersion(MqttProtocolVersion.V500).WithClientId(clientId);
        BrokerTls? tls = null;
        if (ca is not null || cert is not null || key is not null)
        {
            try
            {
                tls = BrokerTls.Load(ca, cert, key);
            }
            catch (BrokerTlsException e)
            {
                throw new UsageException($"{OptionOf(e.File)}: {e.Message}");
            }
            b.WithTlsOptions(t =>
            {
                t.UseTls();
                t.WithTargetHost(host);
                if (tls.ClientCertificate is { } c) t.WithClientCertificates([c]);
                t.WithCertificateValidationHandler(args => tls.IsTrustedBroker(args.Certificate, args.SslPolicyErrors));
            });
        }
        var options = b.Build();
        // A command round trip is one small packet each way: send it now, not after Nagle's wait for the peer's delayed ACK.
        // A package push streams chunks: not through MQTTnet's 8 KiB socket buffers.
        if (options.ChannelOptions is MqttClientTcpOptions tcp)
        {
            tcp.NoDelay = true;
            tcp.BufferSize = SocketBuffers.DefaultBytes;
        }
        return (options, tls, broker);
    }

    private string OptionOf(BrokerTlsFile file) => file switch
    {
        BrokerTlsFile.CaCertificate => TlsCa.Name,
        BrokerTlsFile.ClientCertificate => TlsCert.Name,
        _ => TlsKey.Name,
    };
}
