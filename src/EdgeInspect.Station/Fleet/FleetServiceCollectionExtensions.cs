using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;
using EdgeInspect.Fleet.Protocol.Packages;
using EdgeInspect.Fleet.Protocol.Signing;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Fleet.Commands;
using EdgeInspect.Station.Fleet.Mqtt;
using EdgeInspect.Station.Fleet.Slots;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Sync.Mqtt;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Station.Fleet;

/// <summary>Registers the fleet agent and its MQTT bridge; reports the station's status for the birth message.</summary>
public static class FleetServiceCollectionExtensions
{
    /// <summary>
    /// Registers the fleet agent from the "Fleet" section (validated now, naming the bad key) and, when the uplink has a
    /// broker (<see cref="DeviceMqttConnection"/> registered by AddEdgeInspectUplink), its MQTT bridge. Needs
    /// <see cref="StationEngine"/> and <see cref="ModeController"/> registered; <paramref name="store"/> defaults to
    /// the registered <see cref="IInspectionStore"/>. The hosted service restores the slots, attaches the agent to the
    /// engine (<see cref="StationEngine.Observer"/>) and starts the bridge.
    /// </summary>
    public static IServiceCollection AddEdgeInspectFleet(this IServiceCollection services, IConfiguration configuration,
        FleetInference inference, Func<IServiceProvider, IInspectionStore>? store = null)
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
        services.AddSingleton(options);
        services.AddSingleton(sp =>
        {
            var factory = inference.Networks(sp);
            var installer = new PackageInstaller(options.SlotsFolder, keys, identity,
                new InferencePackageValidator(factory, inference.Options, inference.ImageOps), options.MaxUnpackedBytes);
            var engine = sp.GetRequiredService<StationEngine>();
            return new FleetAgent(options, store?.Invoke(sp) ?? sp.GetRequiredService<IInspectionStore>(), sp.GetRequiredService<ModeController>(),
                engine.Inspectors, installer, new PackageInspectorLoader(factory, inference.Options, inference.ImageOps),
                sp.GetService<TimeProvider>() ?? TimeProvider.System, sp.GetService<ILogger<FleetAgent>>());
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
