using System.Text.Json;
using EdgeInspect.Core.Storage;
using EdgeInspect.Fleet.Protocol.Transfer;
using EdgeInspect.Station.Fleet.Commands;
using EdgeInspect.Station.Fleet.Status;
using EdgeInspect.Station.Fleet.Transfer;
using EdgeInspect.Station.Io;
using EdgeInspect.Sync.Mqtt;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Station.Fleet.Mqtt;

/// <summary>
/// The fleet agent on the device's one MQTT connection: commands on <c>cmd/+</c> (<see cref="MqttCommandResponder"/>),
/// packages on <c>model/+</c> (<see cref="MqttPackageReceiver"/> into <see cref="FleetAgent.InstallAsync"/>), every
/// agent state change published on <c>events</c> (QoS 1) and reflected in the retained status message.
/// </summary>
public sealed class FleetMqttBridge : IAsyncDisposable
{
    private readonly DeviceMqttConnection _connection;
    private readonly FleetAgent _agent;
    private readonly MqttCommandResponder _responder;
    private readonly MqttPackageReceiver _receiver;

    /// <summary>
    /// Registers the agent's commands and subscribes both subtrees on <paramref name="connection"/>. Commands are
    /// accepted from <paramref name="operators"/> for the connection's device id, audited in <paramref name="store"/>
    /// (which also keeps their ids against replay across restarts), and capped by <paramref name="keySwitch"/> where
    /// the station has one.
    /// </summary>
    public FleetMqttBridge(DeviceMqttConnection connection, FleetAgent agent, FleetAgentOptions options, CommandOptions commands,
        OperatorKeys operators, IInspectionStore store, TimeProvider time, IModeKeyPosition? keySwitch = null, ILoggerFactory? logs = null)
    {
        _connection = connection;
        _agent = agent;
        var security = new CommandSecurity(connection.Topics.DeviceId, operators, options.AllowRemoteOverride, agent.Revocations);
        Processor = new CommandProcessor(commands, security, time, store, logs?.CreateLogger<CommandProcessor>());
        agent.RegisterCommands(Processor, connection.PublishBirthAsync, keySwitch);
        _responder = new MqttCommandResponder(connection, Processor, logs?.CreateLogger<MqttCommandResponder>());
        var t = options.Transfer;
        var limits = new TransferLimits
        {
            MaxPackageBytes = options.MaxPackageBytes,
            MaxChunkBytes = options.MaxChunkBytes,
            MinChunkBytes = t.MinChunkBytes,
            MaxChunkCount = t.MaxChunkCount,
        };
        var spool = new PackageReceiver(options.EffectiveSpoolFolder, limits, t, time, agent.CheckOffer);
        var sweepEvery = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerSecond, t.AbandonAfter.Ticks / 4));
        _receiver = new MqttPackageReceiver(connection, spool, agent.InstallAsync, agent.ReportTransferRefusal, commands.ReplyTopicFilter,
            t.QueueCapacity, sweepEvery, time, logs?.CreateLogger<MqttPackageReceiver>());
        agent.StateChanged += OnStateChanged;
    }

    /// <summary>The command processor (counters, registered commands).</summary>
    public CommandProcessor Processor { get; }

    /// <summary>The command side on <c>cmd/+</c>.</summary>
    public MqttCommandResponder Responder => _responder;

    /// <summary>The package side on <c>model/+</c>.</summary>
    public MqttPackageReceiver Receiver => _receiver;

    /// <summary>The birth's status, fleet part included (pass to AddEdgeInspectUplink's status callback).</summary>
    public static DeviceStatusInfo StatusOf(FleetAgent agent)
    {
        var s = agent.Status();
        return new DeviceStatusInfo(s["mode"]?.GetValue<string>(), s["active"]?["model"]?.GetValue<string>(),
            s["active"]?["version"]?.GetValue<string>(), typeof(FleetMqttBridge).Assembly.GetName().Version?.ToString()) { Fleet = s };
    }

    private void OnStateChanged(AuditEvent e)
    {
        // Fire and forget: the agent raises this on the record stage too, which must never wait for the broker.
        _ = Task.Run(async () =>
        {
            await _connection.PublishAsync(_connection.Topics.Events, JsonSerializer.SerializeToUtf8Bytes(FleetStatusProjection.EventJson(e)));
            await _connection.PublishBirthAsync();
        });
    }

    /// <summary>Unsubscribes and stops both workers.</summary>
    public async ValueTask DisposeAsync()
    {
        _agent.StateChanged -= OnStateChanged;
        await _responder.DisposeAsync();
        await _receiver.DisposeAsync();
    }
}
