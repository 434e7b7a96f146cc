using EdgeInspect.Core.Configuration;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Inference;
using EdgeInspect.Core.Storage;
using EdgeInspect.Fleet.Protocol.Packages;
using EdgeInspect.Fleet.Protocol.Signing;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Fleet.Commands;
using EdgeInspect.Station.Fleet.Mqtt;
using EdgeInspect.Station.Fleet.Slots;
using EdgeInspect.Station.Io;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Sync.Mqtt;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeInspect.Station.Fleet;

/// <summary>Registers the fleet agent and its MQTT bridge; reports the station's status for the birth message.</summary>
public static class FleetServiceCollectionExtensions
{
    /// <summary>
    /// Registers the fleet agent from the "Fleet" section (bound once and validated when the host starts, naming the
    /// bad key; the trusted key files are read then too) and, when the uplink has a broker
    /// (<see cref="DeviceMqttConnection"/> registered by AddEdgeInspectUplink), its MQTT bridge. The agent swaps models
    /// through the registered <see cref="IInspectorHost"/> and sees every stored part as an <see cref="IPartObserver"/>
    /// of the engine; needs <see cref="ModeController"/> registered; <paramref name="store"/> defaults to the registered
    /// <see cref="IInspectionStore"/>. Its hosted service restores the slots before frames flow and starts the bridge.
    /// Commands are accepted from the keys in <c>Fleet:Operators</c> (read at start too) and capped by the registered
    /// <see cref="IModeKeyPosition"/>, if any.
    /// </summary>
    public static IServiceCollection AddEdgeInspectFleet(this IServiceCollection services, IConfiguration configuration,
        FleetInference inference, Func<IServiceProvider, IInspectionStore>? store = null)
    {
        // No "Fleet" section: the station runs without fleet control (like the uplink without Uplink:Host).
        if (!configuration.GetSection(FleetAgentOptions.SectionName).Exists()) return services;
        services.AddValidatedSection<FleetAgentOptions>(configuration, FleetAgentOptions.SectionName, o =>
        {
            o.Validate();
            LoadKeys(o).Dispose();
            OperatorKeys.FromOptions(o.Operators, FleetAgentOptions.SectionName).Dispose();
        });
        services.AddValidatedSection<CommandOptions>(configuration, $"{FleetAgentOptions.SectionName}:Commands", o => o.Validate());
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<FleetAgentOptions>>().Value);
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<CommandOptions>>().Value);
        services.AddSingleton(sp => LoadKeys(sp.GetRequiredService<FleetAgentOptions>()));
        services.AddSingleton(sp => OperatorKeys.FromOptions(sp.GetRequiredService<FleetAgentOptions>().Operators, FleetAgentOptions.SectionName));
        var identityId = configuration["Uplink:DeviceId"] ?? configuration["Device:Id"] ?? "dev-0001";
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<FleetAgentOptions>();
            var factory = inference.Networks(sp);
            // The station's own inference settings when it registered them (the profile's providers), else the given ones.
            var runtime = sp.GetService<InferenceOptions>() ?? inference.Options;
            var installer = new PackageInstaller(options.SlotsFolder, sp.GetRequiredService<TrustedKeys>(), new DeviceIdentity(identityId, options.FleetName),
                new InferencePackageValidator(factory, runtime, inference.ImageOps), options.MaxUnpackedBytes, options.RevokedKeys,
                sp.GetService<TimeProvider>(), options.Transfer.MaxArchiveEntries, sp.GetService<ILogger<PackageInstaller>>());
            return new FleetAgent(options, FleetStore(sp), sp.GetRequiredService<ModeController>(),
                sp.GetRequiredService<IInspectorHost>(), installer, new PackageInspectorLoader(factory, runtime, inference.ImageOps),
                sp.GetService<TimeProvider>() ?? TimeProvider.System, sp.GetService<ILogger<FleetAgent>>());
        });
        services.AddSingleton<IPartObserver>(sp => sp.GetRequiredService<FleetAgent>());
        // The key switch, where the composition root registers one, caps remote mode changes.
        services.AddHostedService(sp => new FleetAgentHostedService(sp.GetRequiredService<FleetAgent>(), sp.GetService<DeviceMqttConnection>(),
            sp.GetRequiredService<FleetAgentOptions>(), sp.GetRequiredService<CommandOptions>(), sp.GetRequiredService<OperatorKeys>(), FleetStore(sp),
            sp.GetService<TimeProvider>() ?? TimeProvider.System, sp.GetService<IModeKeyPosition>(), sp.GetService<ILoggerFactory>()));
        return services;

        IInspectionStore FleetStore(IServiceProvider sp) => store?.Invoke(sp) ?? sp.GetRequiredService<IInspectionStore>();
    }

    /// <summary>
    /// The birth / status message of a station: with the fleet agent registered, its mode, active model and fleet state;
    /// else just the mode and the model. For AddEdgeInspectUplink's status callback.
    /// </summary>
    public static DeviceStatusInfo DeviceStatus(IServiceProvider sp)
    {
        if (sp.GetService<FleetAgent>() is { } agent) return FleetMqttBridge.StatusOf(agent);
        var modes = sp.GetService<ModeController>();
        var current = sp.GetService<IInspectorHost>()?.Current;
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
