using System.Buffers;
using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeInspect.Core.Domain;
using EdgeInspect.Fleet.Commands;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Station.Fleet.Commands;
using EdgeInspect.Station.Fleet.Mqtt;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.Sync.Mqtt;
using EdgeInspect.TestSupport;
using MQTTnet;
using MQTTnet.Protocol;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Broker;

/// <summary>
/// The device side of the EdgeInspect broker: <c>Uplink</c>'s TLS settings checked at start, and the device's own
/// connection (records, status, commands) over TLS with its certificate, through the shipped config and ACL.
/// </summary>
public sealed class DeviceTlsTests
{
    private const string P = TlsBroker.DefaultPrefix;

    [Fact]
    public async Task Validate_TlsFileMissing_RefusedNamingTheKey()
    {
        using var tmp = new TempDir();
        var ca = await TestCa.MakeAsync(tmp.Sub("ca"), "dev-01");
        var missing = Path.Combine(tmp.Path, "nope.pem");
        MqttUplinkOptions Options() => new()
        {
            Host = "broker", DeviceId = "dev-01", UseTls = true,
            CaFile = ca.CaFile, ClientCertFile = ca.CertOf("dev-01"), ClientKeyFile = ca.KeyOf("dev-01"),
        };

        Options().Validate();
        var noCa = Assert.Throws<InvalidOperationException>(() => { var o = Options(); o.CaFile = missing; o.Validate(); });
        var noCert = Assert.Throws<InvalidOperationException>(() => { var o = Options(); o.ClientCertFile = missing; o.Validate(); });
        var noKey = Assert.Throws<InvalidOperationException>(() => { var o = Options(); o.ClientKeyFile = missing; o.Validate(); });
        var alone = Assert.Throws<InvalidOperationException>(() => { var o = Options(); o.ClientKeyFile = null; o.Validate(); });
        var plain = Assert.Throws<InvalidOperationException>(() => { var o = Options(); o.UseTls = false; o.Validate(); });

        Assert.Equal($"Uplink:CaFile: file '{missing}' not found", noCa.Message);
        Assert.Equal($"Uplink:ClientCertFile: file '{missing}' not found", noCert.Message);
        Assert.Equal($"Uplink:ClientKeyFile: file '{missing}' not found", noKey.Message);
        Assert.Equal("Uplink:ClientKeyFile: not set, but a client certificate is: a client certificate and its key go together", alone.Message);
        Assert.StartsWith("Uplink:UseTls: ", plain.Message);
    }

    [Fact]
    public async Task Validate_KeyOfAnotherCertificateOrNoCertificateInCaFile_RefusedNamingTheKey()
    {
        using var tmp = new TempDir();
        var ca = await TestCa.MakeAsync(tmp.Sub("ca"), "dev-01", "dev-02");
        var options = new MqttUplinkOptions
        {
            Host = "broker", DeviceId = "dev-01", UseTls = true,
            CaFile = ca.CaFile, ClientCertFile = ca.CertOf("dev-01"), ClientKeyFile = ca.KeyOf("dev-02"),
        };

        var wrongKey = Assert.Throws<InvalidOperationException>(options.Validate);
        options.ClientKeyFile = ca.KeyOf("dev-01");
        options.CaFile = ca.KeyOf("dev-01");
        var keyAsCa = Assert.Throws<InvalidOperationException>(options.Validate);

        Assert.StartsWith($"Uplink:ClientKeyFile: file '{ca.KeyOf("dev-02")}' is not the PEM private key of '{ca.CertOf("dev-01")}'", wrongKey.Message);
        Assert.Equal($"Uplink:CaFile: file '{ca.KeyOf("dev-01")}' holds no PEM certificate", keyAsCa.Message);
    }

    [Fact]
    public async Task Run_StationWithMissingKeyOrAnotherDevicesCertificate_ExitsTwoNamingTheKey()
    {
        using var tmp = new TempDir();
        var ca = await TestCa.MakeAsync(tmp.Sub("ca"), "test-001", "test-002");
        var missingKey = Path.Combine(tmp.Path, "gone.key");

        var noKey = await RunStationAsync(tmp, ca.CaFile, ca.CertOf("test-001"), missingKey);
        var foreign = await RunStationAsync(tmp, ca.CaFile, ca.CertOf("test-002"), ca.KeyOf("test-002"));

        Assert.True(noKey.Code == 2, $"exit {noKey.Code}: {noKey.Err}");
        Assert.Contains($"Uplink:ClientKeyFile: file '{missingKey}' not found", noKey.Err);
        Assert.True(foreign.Code == 2, $"exit {foreign.Code}: {foreign.Err}");
        Assert.Contains("Uplink:ClientCertFile: certificate CN 'test-002' is not the device id 'test-001'", foreign.Err);
    }

    /// <summary>Runs <c>edgeinspect run</c> (a real process) with a TLS uplink; it should refuse at start, before any frame or connect.</summary>
    private static async Task<(int Code, string Err)> RunStationAsync(TempDir tmp, string caFile, string certFile, string keyFile)
    {
        var profile = Path.Combine(tmp.Path, "profile.json");
        File.WriteAllText(profile, JsonSerializer.Serialize(new
        {
            Device = new { Id = "test-001", Station = "station-1" },
            Source = new { Kind = "virtual-line", Seed = 5, IntervalMs = 50 },
            Store = new { Path = Path.Combine(tmp.Path, "ei.db") },
            Model = new { Package = Path.Combine(RepoPaths.Root, "models", "virtual-line") },
            Uplink = new { Host = "127.0.0.1", Port = 8883, UseTls = true, CaFile = caFile, ClientCertFile = certFile, ClientKeyFile = keyFile },
        }));
        using var p = EdgeInspectProcess.Start("run", "--profile", profile);
        var stderr = p.StandardError.ReadToEndAsync();
        _ = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(60)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail("edgeinspect run did not refuse its profile within 60 s");
        }
        return (p.ExitCode, await stderr);
    }

    [MosquittoFact]
    public async Task Uplink_OwnCertificate_RecordsAcknowledgedAndReadByTheIngest()
    {
        await using var broker = await TlsBroker.StartAsync(["dev-01"]);
        using var ingest = await broker.ConnectAsync(TestCa.Ingest);
        var arrivals = new ConcurrentQueue<(string Topic, JsonNode? Body)>();
        ingest.ApplicationMessageReceivedAsync += e =>
        {
            arrivals.Enqueue((e.ApplicationMessage.Topic, JsonNode.Parse(e.ApplicationMessage.Payload.ToArray())));
            return Task.CompletedTask;
        };
        await ingest.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter($"{P}/+/records", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter($"{P}/+/status", MqttQualityOfServiceLevel.AtLeastOnce).Build());
        using var tmp = new TempDir();
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(tmp.Path, "s.db") });
        var options = broker.DeviceOptions("dev-01");
        await using var device = new DeviceMqttConnection(options);
        await using var uplink = new OutboxUplink(store, device, options);

        await device.StartAsync();
        await uplink.StartAsync();
        for (var i = 1; i <= 20; i++) store.Append(Record("dev-01", i));
        await StationRig.Until(() => store.PendingCount == 0 && arrivals.Count(a => a.Topic.EndsWith("/records", StringComparison.Ordinal)) == 20,
            "20 records acknowledged and read by the ingest", TimeSpan.FromSeconds(20));

        Assert.Equal(1, device.Connects);
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i),
            arrivals.Where(a => a.Topic == $"{P}/dev-01/records").Select(a => a.Body!["sequence"]!.GetValue<long>()).Order());
        Assert.Contains(arrivals, a => a.Topic == $"{P}/dev-01/status" && a.Body!["state"]!.GetValue<string>() == "online");
    }

    [Fact]
    public async Task Validate_CertificateOfAnotherDevice_RefusedNamingClientCertFile()
    {
        using var tmp = new TempDir();
        var ca = await TestCa.MakeAsync(tmp.Sub("ca"), "dev-01", "dev-02");
        // The broker would know this device as dev-02 and refuse every publish under dev-01 (BrokerAclTests).
        var options = new MqttUplinkOptions
        {
            Host = "broker", DeviceId = "dev-01", UseTls = true,
            CaFile = ca.CaFile, ClientCertFile = ca.CertOf("dev-02"), ClientKeyFile = ca.KeyOf("dev-02"),
        };

        var e = Assert.Throws<InvalidOperationException>(options.Validate);

        Assert.StartsWith("Uplink:ClientCertFile: certificate CN 'dev-02' is not the device id 'dev-01'", e.Message);
    }

    [MosquittoFact]
    public async Task Reconnect_CertificateFilesReplaced_ReadAgainAtEachConnect()
    {
        await using var broker = await TlsBroker.StartAsync(["dev-01"]);
        using var tmp = new TempDir();
        var rogue = await TestCa.MakeAsync(tmp.Sub("rogue"), "dev-01");
        var options = broker.DeviceOptions("dev-01");
        options.MinBackoffSeconds = 0.2;
        options.MaxBackoffSeconds = 0.5;
        await using var device = new DeviceMqttConnection(options);
        await device.StartAsync();
        Assert.True(await device.WaitConnectedAsync(TimeSpan.FromSeconds(10)), "first connect");
        var genuineCert = File.ReadAllBytes(options.ClientCertFile!);
        var genuineKey = File.ReadAllBytes(options.ClientKeyFile!);

        // A renewal that went wrong (a certificate from another CA): the next connect uses it and is refused.
        File.Copy(rogue.CertOf("dev-01"), options.ClientCertFile!, overwrite: true);
        File.Copy(rogue.KeyOf("dev-01"), options.ClientKeyFile!, overwrite: true);
        await broker.Broker.StopAsync();
        await broker.Broker.StartAsync();
        var failuresBefore = device.ConnectFailures;
        await StationRig.Until(() => device.ConnectFailures >= failuresBefore + 2, "refused reconnects with the other CA's certificate", TimeSpan.FromSeconds(10));
        Assert.False(device.IsConnected);
        Assert.Contains("certificate verify failed", broker.Broker.ReadLog());

        // The right files back: the next attempt connects, no restart.
        File.WriteAllBytes(options.ClientCertFile!, genuineCert);
        File.WriteAllBytes(options.ClientKeyFile!, genuineKey);
        Assert.True(await device.WaitConnectedAsync(TimeSpan.FromSeconds(10)), "reconnect with the genuine certificate");
        Assert.Equal(2, device.Connects);
    }

    [MosquittoFact]
    public async Task Commands_OverTls_SignedStatusAnsweredThroughTheFleetIdentity()
    {
        await using var broker = await TlsBroker.StartAsync(["dev-01"]);
        using var ops = new TestOperators();
        using var store = new EdgeInspect.Core.Storage.InMemoryInspectionStore();
        await using var device = new DeviceMqttConnection(broker.DeviceOptions("dev-01"));
        var processor = new CommandProcessor(new CommandOptions(), ops.Security("dev-01"), TimeProvider.System, store);
        processor.Register("status", OperatorRole.Observe, (_, _) => ValueTask.FromResult<JsonNode?>(new JsonObject { ["over"] = "tls" }));
        await using var responder = new MqttCommandResponder(device, processor);
        await device.StartAsync();
        Assert.True(await device.WaitConnectedAsync(TimeSpan.FromSeconds(10)), "device over TLS");
        using var fleetMqtt = await broker.ConnectAsync(TestCa.Fleet);
        await using var fleet = new FleetCommandClient(fleetMqtt, P, "tool1", TimeProvider.System);
        await fleet.SubscribeAsync(default);
        await Task.Delay(300);

        var reply = await fleet.SendAsync("dev-01", "status", null, TimeSpan.FromSeconds(10), ops.Observer, default);

        Assert.True(reply.Ok, $"{reply.Error} {reply.Reason}");
        Assert.Equal("tls", reply.Result!["over"]!.GetValue<string>());
    }

    private static InspectionRecord Record(string deviceId, long seq) => new()
    {
        DeviceId = deviceId, Station = "st-1", Sequence = seq, CapturedAt = DateTimeOffset.UnixEpoch.AddSeconds(seq),
        DecidedAt = DateTimeOffset.UnixEpoch.AddSeconds(seq), Mode = AutomationMode.Full, Verdict = Verdict.Ok, VerdictSource = VerdictSource.Model,
    };
}
