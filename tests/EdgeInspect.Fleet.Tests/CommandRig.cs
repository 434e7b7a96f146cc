using System.Diagnostics;
using System.Text.Json.Nodes;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;
using EdgeInspect.Fleet.Commands;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Fleet.Commands;
using EdgeInspect.Station.Fleet.Mqtt;
using EdgeInspect.Station.Io;
using EdgeInspect.Sync.Mqtt;
using EdgeInspect.TestSupport;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Xunit;

namespace EdgeInspect.Fleet.Tests;

/// <summary>A key switch held at one position (null: key out).</summary>
internal sealed class FixedKeySwitch(AutomationMode? position) : IModeKeyPosition
{
    public AutomationMode? Position { get; set; } = position;
}

/// <summary>
/// The device's command side on a real Mosquitto: a store, a mode controller behind the real set-mode handler (gate,
/// key switch, audit), a status command, the responder on the device's connection; the cloud side's signed client
/// (the code path of edgeinspect-fleet) and an attacker: a plain MQTTnet client with no key.
/// </summary>
internal sealed class CommandRig : IAsyncDisposable
{
    public const string Prefix = "ei-test";
    public const string Device = "dev-01";
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private readonly CommandOptions _options;
    private readonly bool _allowRemoteOverride;

    private CommandRig(MosquittoBroker broker, CommandOptions options, bool allowRemoteOverride, IModeKeyPosition? keySwitch)
    {
        Broker = broker;
        _options = options;
        _allowRemoteOverride = allowRemoteOverride;
        KeySwitch = keySwitch;
        Modes = new ModeController(Store, new AutomationGate(new GateOptions()), TimeProvider.System);
    }

    public MosquittoBroker Broker { get; }
    public TestOperators Ops { get; } = new();
    public InMemoryInspectionStore Store { get; } = new();
    public ModeController Modes { get; }
    public IModeKeyPosition? KeySwitch { get; }
    public DeviceMqttConnection DeviceClient { get; private set; } = null!;
    public CommandProcessor Processor { get; private set; } = null!;
    public MqttCommandResponder Responder { get; private set; } = null!;
    public IMqttClient FleetMqtt { get; private set; } = null!;
    public FleetCommandClient Fleet { get; private set; } = null!;
    public IMqttClient AttackerMqtt { get; private set; } = null!;
    public FleetCommandClient Attacker { get; private set; } = null!;

    public static async Task<CommandRig> StartAsync(CommandOptions? options = null, bool allowRemoteOverride = false, IModeKeyPosition? keySwitch = null)
    {
        var rig = new CommandRig(await MosquittoBroker.LaunchAsync(), options ?? new CommandOptions(), allowRemoteOverride, keySwitch);
        await rig.StartDeviceAsync();
        rig.FleetMqtt = await ConnectAsync(rig.Broker, "fleet-");
        rig.Fleet = new FleetCommandClient(rig.FleetMqtt, Prefix, "tool1", TimeProvider.System);
        await rig.Fleet.SubscribeAsync(default);
        rig.AttackerMqtt = await ConnectAsync(rig.Broker, "attacker-");
        rig.Attacker = new FleetCommandClient(rig.AttackerMqtt, Prefix, "attacker", TimeProvider.System);
        await rig.Attacker.SubscribeAsync(default);
        return rig;
    }

    public static async Task<IMqttClient> ConnectAsync(MosquittoBroker broker, string idPrefix)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(broker.Host, broker.Port)
            .WithProtocolVersion(MqttProtocolVersion.V500).WithClientId(idPrefix + Guid.NewGuid().ToString("N")[..8]).Build());
        return client;
    }

    /// <summary>A device (re)start: a new connection, processor and responder over the same store.</summary>
    public async Task RestartDeviceAsync()
    {
        await StopDeviceAsync();
        await StartDeviceAsync();
    }

    private async Task StartDeviceAsync()
    {
        DeviceClient = await TestPackages.DeviceConnection(Broker, Prefix, Device);
        Processor = new CommandProcessor(_options, Ops.Security(Device, _allowRemoteOverride), TimeProvider.System, Store);
        Processor.Register("status", OperatorRole.Observe, (_, _) => ValueTask.FromResult<JsonNode?>(new JsonObject { ["mode"] = Modes.Current.ToWire() }));
        Processor.Register("set-mode", OperatorRole.Operate, FleetCommandHandlers.SetMode(Modes, KeySwitch));
        Responder = new MqttCommandResponder(DeviceClient, Processor);
        // The filter is subscribed in the background once connected; give the SUBACK a moment.
        await Task.Delay(300);
    }

    private async Task StopDeviceAsync()
    {
        await Responder.DisposeAsync();
        await DeviceClient.DisposeAsync();
    }

    /// <summary>A command signed by <paramref name="key"/> (default: the operate key) through the fleet tool's client.</summary>
    public Task<CommandReply> SendAsync(string command, JsonObject? args = null, System.Security.Cryptography.ECDsa? key = null) =>
        Fleet.SendAsync(Device, command, args, Wait, key ?? Ops.Operator, default);

    /// <summary>Sends ready-made bytes from the fleet tool's client.</summary>
    public Task<CommandReply> SendRawViaFleet(string command, byte[] payload) => Fleet.SendRawAsync(Device, command, payload, Wait, default);

    /// <summary>The attacker publishes <paramref name="payload"/> with its own response topic and awaits the reply.</summary>
    public Task<CommandReply> AttackAsync(string command, byte[] payload) => Attacker.SendRawAsync(Device, command, payload, Wait, default);

    /// <summary>The attacker publishes with any response topic; nothing is awaited.</summary>
    public Task PublishAsAttackerAsync(string topic, byte[] payload, string responseTopic) =>
        AttackerMqtt.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithResponseTopic(responseTopic)
            .WithCorrelationData([1, 2, 3]).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());

    /// <summary>The device still serves: a signed status from the observe key is answered within 5 s.</summary>
    public async Task AssertStillServesAsync()
    {
        var sw = Stopwatch.StartNew();
        var reply = await Fleet.SendAsync(Device, "status", null, TimeSpan.FromSeconds(5), Ops.Observer, default);
        Assert.True(reply.Ok, $"status after the attack: {reply.Error} {reply.Reason}");
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"status took {sw.Elapsed}");
    }

    /// <summary>The refusals audited so far.</summary>
    public List<AuditEvent> Refusals() => Store.AuditEvents().Where(e => e.Kind == CommandProcessor.RefusedKind).ToList();

    public async ValueTask DisposeAsync()
    {
        await StopDeviceAsync();
        await Fleet.DisposeAsync();
        await Attacker.DisposeAsync();
        FleetMqtt.Dispose();
        AttackerMqtt.Dispose();
        await Broker.DisposeAsync();
        Ops.Dispose();
    }
}
