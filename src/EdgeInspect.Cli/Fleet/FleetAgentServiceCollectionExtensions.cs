using System.Text.Json.Nodes;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Fleet;
using EdgeInspect.Core.Fleet.Commands;
using EdgeInspect.Core.Inference;
using EdgeInspect.Core.Packages.Signing;
using EdgeInspect.Core.Packages.Transfer;
using EdgeInspect.Core.Storage;
using EdgeInspect.Imaging.OpenCv;
using EdgeInspect.Inference.Onnx;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Fleet;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Sync.Mqtt;
using EdgeInspect.Sync.Mqtt.Commands;
using EdgeInspect.Sync.Mqtt.Packages;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Cli.Fleet;

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

    public FleetMqttBridge(DeviceMqttConnection connection, FleetAgent agent, FleetAgentOptions options, CommandOptions commands, TimeProvider time)
    {
        _connection = connection;
        _agent = agent;
        Processor = new CommandProcessor(commands, time);
        agent.RegisterCommands(Processor, connection.PublishBirthAsync);
        _responder = new MqttCommandResponder(connection, Processor);
        var limits = new TransferLimits { MaxPackageBytes = options.MaxPackageBytes, MaxChunkBytes = options.MaxChunkBytes };
        _receiver = new MqttPackageReceiver(connection, new PackageReceiver(options.EffectiveSpoolFolder, limits), agent.InstallAsync,
            agent.ReportTransferRefusal);
        agent.StateChanged += OnStateChanged;
    }

    public CommandProcessor Processor { get; }

    public MqttCommandResponder Responder => _responder;

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
        // Fire and forget: the agent raises this on the inspection thread too, which must never wait for the broker.
        _ = Task.Run(async () =>
        {
            await _connection.PublishAsync(_connection.Topics.Events, System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(FleetAgent.EventJson(e)));
            await _connection.PublishBirthAsync();
        });
    }

    public async ValueTask DisposeAsync()
    {
        _agent.StateChanged -= OnStateChanged;
        await _responder.DisposeAsync();
        await _receiver.DisposeAsync();
    }
}

public static class FleetAgentServiceCollectionExtensions
{
    /// <summary>
    /// Registers the fleet agent from the "Fleet" section (validated now, naming the bad key) and, when the uplink has a
    /// broker (<see cref="DeviceMqttConnection"/> registered by AddEdgeInspectUplink), its MQTT bridge. Needs
    /// <see cref="StationEngine"/> and <see cref="ModeController"/> registered; <paramref name="store"/> defaults to
    /// the registered <see cref="IInspectionStore"/>. The ONNX validator and loader use the CPU provider unless
    /// <paramref name="inference"/> is given. The hosted service restores the slots, attaches the agent to the engine
    /// (<see cref="StationEngine.Observer"/>) and starts the bridge.
    /// </summary>
    public static IServiceCollection AddEdgeInspectFleetAgent(this IServiceCollection services, IConfiguration configuration,
        Func<IServiceProvider, IInspectionStore>? store = null, InferenceOptions? inference = null)
    {
        // No "Fleet" section: the station runs without fleet control (like the uplink without Uplink:Host).
        if (!configuration.GetSection(FleetAgentOptions.SectionName).Exists()) return services;
        var options = new FleetAgentOptions();
        configuration.GetSection(FleetAgentOptions.SectionName).Bind(options);
        options.Validate();
        // The keys are read now, so a missing or bad key file stops the service at boot, naming the key.
        var keys = LoadKeys(options);
        services.AddSingleton(keys);
        var commands = new CommandOptions();
        configuration.GetSection("Fleet:Commands").Bind(commands);
        commands.Validate();
        var identity = new DeviceIdentity(configuration["Uplink:DeviceId"] ?? configuration["Device:Id"] ?? "dev-0001", options.FleetName);
        inference ??= new InferenceOptions();
        services.AddSingleton(options);
        services.AddSingleton(sp =>
        {
            var factory = new OnnxNetworkFactory(sp.GetService<ILogger<OnnxNetworkFactory>>());
            var installer = new PackageInstaller(options.SlotsFolder, keys, identity, new InferencePackageValidator(factory, inference, () => new OpenCvImageOps()), options.MaxUnpackedBytes);
            var engine = sp.GetRequiredService<StationEngine>();
            return new FleetAgent(options, store?.Invoke(sp) ?? sp.GetRequiredService<IInspectionStore>(), sp.GetRequiredService<ModeController>(),
                engine.Inspectors, installer, new PackageInspectorLoader(factory, inference, () => new OpenCvImageOps()), sp.GetService<TimeProvider>() ?? TimeProvider.System,
                sp.GetService<ILogger<FleetAgent>>());
        });
        services.AddHostedService(sp => new FleetAgentHostedService(sp.GetRequiredService<FleetAgent>(), sp.GetRequiredService<StationEngine>(),
            sp.GetService<DeviceMqttConnection>(), options, commands, sp.GetService<TimeProvider>() ?? TimeProvider.System));
        return services;
    }

    /// <summary>
    /// The birth / status message of a station: with the fleet agent registered, its mode, active model and fleet state;
    /// else just the mode and the model. For AddEdgeInspectUplink's status callback.
    /// </summary>
    public static DeviceStatusInfo DeviceStatus(IServiceProvider sp)
    {
        if (sp.GetService<FleetAgent>() is { } agent) return FleetMqttBridge.StatusOf(agent);
        var modes = sp.GetService<ModeController>();
        var current = sp.GetService<StationEngine>()?.Inspectors.Current;
        return new DeviceStatusInfo(modes?.Current.ToWire(), current?.ModelName, current?.ModelVersion,
            typeof(FleetMqttBridge).Assembly.GetName().Version?.ToString());
    }

    private static TrustedKeys LoadKeys(FleetAgentOptions options)
    {
        for (var i = 0; i < options.TrustedKeys.Count; i++)
        {
            if (!File.Exists(options.TrustedKeys[i]))
                throw new ArgumentException($"{FleetAgentOptions.SectionName}:TrustedKeys:{i}: file '{options.TrustedKeys[i]}' not found");
        }
        try
        {
            return TrustedKeys.FromFiles(options.TrustedKeys);
        }
        catch (Exception e) when (e is IOException or ArgumentException or KeyFormatException or System.Security.Cryptography.CryptographicException)
        {
            throw new ArgumentException($"{FleetAgentOptions.SectionName}:TrustedKeys: {e.Message}", e);
        }
    }
}

/// <summary>Restores the slots and attaches the agent before frames flow; detaches and disposes on stop.</summary>
internal sealed class FleetAgentHostedService(FleetAgent agent, StationEngine engine, DeviceMqttConnection? connection,
    FleetAgentOptions options, CommandOptions commands, TimeProvider time) : IHostedService
{
    private FleetMqttBridge? _bridge;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        agent.Start();
        engine.Observer = agent;
        if (connection is not null) _bridge = new FleetMqttBridge(connection, agent, options, commands, time);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_bridge is not null) await _bridge.DisposeAsync();
        engine.Observer = null;
        agent.Dispose();
    }
}
