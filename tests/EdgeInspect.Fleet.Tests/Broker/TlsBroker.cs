using EdgeInspect.Fleet.Protocol.Tls;
using EdgeInspect.Sync.Mqtt;
using EdgeInspect.TestSupport;
using MQTTnet;
using MQTTnet.Formatter;

namespace EdgeInspect.Fleet.Tests.Broker;

/// <summary>
/// Mosquitto run with the production config and ACL of device-config/broker, in a temp copy: the certificate and ACL
/// paths point at a fresh <see cref="TestCa"/>, the listener at a free loopback port, and (for rigs whose topics use
/// another prefix) the ACL's "edgeinspect/" prefix replaced, the substitution the ACL's header asks of an operator.
/// Every substitution must hit, so the test cannot drift from the shipped files unnoticed.
/// </summary>
internal sealed class TlsBroker : IAsyncDisposable
{
    public const string DefaultPrefix = "edgeinspect";
    public static readonly string ConfigFile = Path.Combine(RepoPaths.Root, "device-config", "broker", "edgeinspect.conf");
    public static readonly string AclFile = Path.Combine(RepoPaths.Root, "device-config", "broker", "edgeinspect.acl");

    private readonly TempDir _tmp;
    private readonly List<BrokerTls> _loaded = [];

    private TlsBroker(TempDir tmp, TestCa ca, MosquittoBroker broker, string prefix)
    {
        _tmp = tmp;
        Ca = ca;
        Broker = broker;
        Prefix = prefix;
    }

    public TestCa Ca { get; }
    public MosquittoBroker Broker { get; }
    public string Prefix { get; }

    /// <summary>"127.0.0.1:port", as edgeinspect-fleet's --broker takes it.</summary>
    public string Endpoint => $"{Broker.Host}:{Broker.Port}";

    public static async Task<TlsBroker> StartAsync(string[] deviceIds, string prefix = DefaultPrefix)
    {
        var tmp = new TempDir();
        try
        {
            var ca = await TestCa.MakeAsync(tmp.Sub("ca"), deviceIds);
            var acl = Path.Combine(tmp.Path, "edgeinspect.acl");
            var aclText = File.ReadAllText(AclFile);
            if (prefix != DefaultPrefix) aclText = Replace(aclText, " " + DefaultPrefix + "/", " " + prefix + "/");
            File.WriteAllText(acl, aclText);
            var broker = await MosquittoBroker.LaunchWithConfigFileAsync(ConfigFile, (text, port) =>
            {
                text = Replace(text, "listener 8883", $"listener {port} 127.0.0.1");
                text = Replace(text, "/etc/mosquitto/ca_certificates/edgeinspect-ca.pem", ca.CaFile);
                text = Replace(text, "/etc/mosquitto/certs/edgeinspect-broker.pem", ca.BrokerCert);
                text = Replace(text, "/etc/mosquitto/certs/edgeinspect-broker.key", ca.BrokerKey);
                return Replace(text, "/etc/mosquitto/conf.d/edgeinspect.acl", acl);
            });
            return new TlsBroker(tmp, ca, broker, prefix);
        }
        catch
        {
            tmp.Dispose();
            throw;
        }
    }

    /// <summary>The device's uplink options for <paramref name="deviceId"/> with the certificate of <paramref name="certificateOf"/> (default: its own).</summary>
    public MqttUplinkOptions DeviceOptions(string deviceId, string? certificateOf = null) => new()
    {
        Host = Broker.Host,
        Port = Broker.Port,
        TopicPrefix = Prefix,
        DeviceId = deviceId,
        ClientId = "device-" + Guid.NewGuid().ToString("N")[..8],
        MaxPayloadBytes = 1024 * 1024,
        UseTls = true,
        CaFile = Ca.CaFile,
        ClientCertFile = Ca.CertOf(certificateOf ?? deviceId),
        ClientKeyFile = Ca.KeyOf(certificateOf ?? deviceId),
    };

    /// <summary>edgeinspect-fleet's connection options for this broker, as the fleet identity.</summary>
    public string[] FleetArgs =>
        ["--broker", Endpoint, "--prefix", Prefix, "--tls-ca", Ca.CaFile, "--tls-cert", Ca.CertOf(TestCa.Fleet), "--tls-key", Ca.KeyOf(TestCa.Fleet)];

    /// <summary>
    /// A plain MQTTnet client connected over TLS with <paramref name="identity"/>'s certificate (a device id,
    /// <see cref="TestCa.Fleet"/> or <see cref="TestCa.Ingest"/>); <paramref name="ca"/> replaces this CA's files
    /// (a certificate from another CA), <paramref name="noCertificate"/> offers none.
    /// </summary>
    public async Task<IMqttClient> ConnectAsync(string identity, TestCa? ca = null, bool noCertificate = false)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder().WithTcpServer(Broker.Host, Broker.Port).WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId(identity + "-" + Guid.NewGuid().ToString("N")[..8]).WithTimeout(TimeSpan.FromSeconds(5));
        UseIdentity(options, identity, ca, noCertificate);
        try
        {
            await client.ConnectAsync(options.Build());
            return client;
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>TLS on <paramref name="options"/> with <paramref name="identity"/>'s certificate (see <see cref="ConnectAsync"/>).</summary>
    public void UseIdentity(MqttClientOptionsBuilder options, string identity, TestCa? ca = null, bool noCertificate = false)
    {
        ca ??= Ca;
        var tls = BrokerTls.Load(Ca.CaFile, noCertificate ? null : ca.CertOf(identity), noCertificate ? null : ca.KeyOf(identity));
        lock (_loaded) _loaded.Add(tls);
        options.WithTlsOptions(t =>
        {
            t.UseTls();
            t.WithTargetHost(Broker.Host);
            if (tls.ClientCertificate is { } c) t.WithClientCertificates([c]);
            t.WithCertificateValidationHandler(a => tls.IsTrustedBroker(a.Certificate, a.SslPolicyErrors));
        });
    }

    /// <summary>For <see cref="StationRig"/>: its device connects with <paramref name="deviceId"/>'s certificate, its cloud side as the fleet.</summary>
    public RigBroker ForStation(string deviceId) => new(Broker,
        uplink =>
        {
            var d = DeviceOptions(deviceId);
            (uplink.UseTls, uplink.CaFile, uplink.ClientCertFile, uplink.ClientKeyFile) = (d.UseTls, d.CaFile, d.ClientCertFile, d.ClientKeyFile);
        },
        cloud => UseIdentity(cloud, TestCa.Fleet));

    public async ValueTask DisposeAsync()
    {
        await Broker.DisposeAsync();
        foreach (var tls in _loaded) tls.Dispose();
        _tmp.Dispose();
    }

    private static string Replace(string text, string what, string with)
    {
        if (!text.Contains(what, StringComparison.Ordinal)) throw new InvalidOperationException($"'{what}' not found in the broker config: the test and device-config/broker disagree");
        return text.Replace(what, with, StringComparison.Ordinal);
    }
}
