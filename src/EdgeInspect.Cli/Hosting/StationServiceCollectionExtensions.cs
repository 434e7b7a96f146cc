using EdgeInspect.Cli.Fleet;
using EdgeInspect.Core.Configuration;
using EdgeInspect.Core.Telemetry;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Configuration;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.Sync.Mqtt;
using EdgeInspect.Sync.Mqtt.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeInspect.Cli.Hosting;

/// <summary>The station module: every part of a station registered from the host's configuration (a profile).</summary>
public static class StationServiceCollectionExtensions
{
    /// <summary>
    /// Registers a whole station on <paramref name="builder"/>: typed options for each profile section (validated at
    /// start, a bad value names its key), GPIO, frame source and trigger, human verdict source, outputs, key switch,
    /// the model, mode controller and engine, the three pipeline stages, store, uplink, telemetry and fleet control.
    /// Hardware and the model come through small seams (<see cref="System.Device.Gpio.GpioController"/>,
    /// <see cref="Core.Imaging.IFrameSource"/>, <see cref="Station.Fleet.Slots.IInspectorLoader"/>): a registration added
    /// after this call replaces the default, which is how tests run a station with simulated parts.
    /// </summary>
    public static IHostApplicationBuilder AddEdgeInspectStation(this IHostApplicationBuilder builder, StationHostSettings? settings = null)
    {
        settings ??= new StationHostSettings();
        var configuration = builder.Configuration;
        var services = builder.Services;
        // Records, topics and telemetry carry the profile's device id unless the uplink names its own.
        if (configuration[$"{MqttUplinkOptions.SectionName}:DeviceId"] is null && configuration["Device:Id"] is { } deviceId)
        {
            configuration.AddInMemoryCollection([new($"{MqttUplinkOptions.SectionName}:DeviceId", deviceId)]);
        }

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(settings);
        services.AddValidatedSection<DeviceOptions>(configuration, DeviceOptions.SectionName, o => o.Validate());
        services.AddValidatedSection<SourceOptions>(configuration, SourceOptions.SectionName, o => o.Validate());
        services.AddValidatedSection<HumanVerdictOptions>(configuration, HumanVerdictOptions.SectionName, o => o.Validate());
        services.AddValidatedSection<AutomationOptions>(configuration, AutomationOptions.SectionName, o => o.Validate());
        services.AddValidatedSection<ModelOptions>(configuration, ModelOptions.SectionName, o => o.Validate());
        services.AddValidatedSection<GpioOptions>(configuration, GpioOptions.SectionName, o => o.Validate());

        services.AddEdgeInspectStorage(configuration);
        // The model spool is on the same disk budget as the store (Store:BudgetBytes counts its bytes).
        var fleetSection = configuration.GetSection(Station.Fleet.FleetAgentOptions.SectionName);
        if (fleetSection.Exists())
        {
            // Only the two keys (binding the whole section here would fail before the start-up validation names the key).
            var fleet = new Station.Fleet.FleetAgentOptions { SpoolFolder = fleetSection[nameof(Station.Fleet.FleetAgentOptions.SpoolFolder)] };
            if (fleetSection[nameof(Station.Fleet.FleetAgentOptions.SlotsFolder)] is { } slots) fleet.SlotsFolder = slots;
            services.PostConfigure<StoreOptions>(o => o.SpoolFolder ??= fleet.EffectiveSpoolFolder);
        }
        services.AddPartImageCapture(configuration);
        services.AddEdgeInspectUplink(configuration, FleetAgentServiceCollectionExtensions.DeviceStatus);
        services.AddEdgeInspectTelemetry(configuration);
        services.AddStationIo();
        services.AddStationModel();
        services.AddSingleton(StationParts.CreateModeController);
        services.AddSingleton(sp =>
        {
            var device = sp.GetRequiredService<IOptions<DeviceOptions>>().Value;
            var human = sp.GetRequiredService<IOptions<HumanVerdictOptions>>().Value;
            var automation = sp.GetRequiredService<IOptions<AutomationOptions>>().Value;
            return new StationOptions
            {
                DeviceId = device.Id,
                Station = device.Station,
                PartialConfidence = automation.PartialConfidence,
                AuditSampleRate = automation.AuditSampleRate,
                AuditSampleSeed = automation.AuditSampleSeed,
                HumanWindow = TimeSpan.FromMilliseconds(human.WindowMs),
                GroupCommitWindow = TimeSpan.FromMilliseconds(sp.GetRequiredService<IOptions<StoreOptions>>().Value.GroupCommitMs),
            };
        });
        services.AddSingleton(sp => new StationEngine(sp.GetRequiredService<StationOptions>(), sp.GetRequiredService<IInspectorHost>(),
            sp.GetRequiredService<ModeController>(), sp.GetRequiredService<Core.Storage.IInspectionStore>(),
            sp.GetRequiredService<IStationOutputs>(), sp.GetService<IHumanVerdictSource>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetService<ITelemetryRecorder>(), sp.GetServices<IPartObserver>(), sp.GetRequiredService<ILogger<StationEngine>>(),
            sp.GetService<Station.Capture.PartImageCapture>()));

        // Fleet control when the profile has a Fleet section; its hosted service restores the model slots, so it is
        // registered before the stages and starts before frames flow.
        services.AddEdgeInspectFleetAgent(configuration);
        Web.WebServiceCollectionExtensions.AddEdgeInspectWeb(services, configuration); // the technician's page and /metrics when Web:Enabled

        services.AddSingleton(new FrameChannel(capacity: 4));
        services.AddSingleton(new RecordChannel(capacity: 8));
        // Hosted services stop in reverse order: capture first, then inspection drains its channel, then the record
        // stage drains the decided parts; the progress reporter, registered first, stops last and counts them all.
        services.AddHostedService(sp => new ProgressReporter(sp.GetRequiredService<StationEngine>(), sp.GetRequiredService<ModeController>(),
            sp.GetRequiredService<TimeProvider>(), settings.Progress));
        services.AddHostedService(sp => new ModeControlFolder(StationParts.ControlFolder(sp), sp.GetRequiredService<ModeController>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<ModeControlFolder>>()));
        if (configuration.GetValue($"{GpioOptions.SectionName}:{nameof(GpioOptions.ModeKeySwitch)}", defaultValue: true))
        {
            services.AddSingleton<ModeKeySwitchService>();
            services.AddSingleton<Station.Io.IModeKeyPosition>(sp => sp.GetRequiredService<ModeKeySwitchService>());
            services.AddHostedService(sp => sp.GetRequiredService<ModeKeySwitchService>());
        }
        // AddSystemd registers the notifier only under systemd; elsewhere a notifier with no socket is disabled.
        services.AddHostedService(sp => new SystemdWatchdog(
            sp.GetService<Microsoft.Extensions.Hosting.Systemd.ISystemdNotifier>() ?? new Microsoft.Extensions.Hosting.Systemd.SystemdNotifier(),
            sp.GetRequiredService<StationEngine>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<SystemdWatchdog>>()));
        if (configuration.GetValue($"{GpioOptions.SectionName}:{nameof(GpioOptions.ReadyOutput)}", defaultValue: -1) >= 0)
        {
            services.AddHostedService(sp =>
            {
                var gpio = sp.GetRequiredService<IOptions<GpioOptions>>().Value;
                return new Station.Io.StationReadyOutput(sp.GetRequiredService<System.Device.Gpio.GpioController>(), gpio.ReadyOutput, gpio.ReadyActiveLow,
                    sp.GetRequiredService<StationEngine>(), TimeSpan.FromMilliseconds(gpio.ReadyStallMs), sp.GetRequiredService<TimeProvider>(),
                    sp.GetRequiredService<ILogger<Station.Io.StationReadyOutput>>());
            });
        }
        // Before the record stage, so it stops after it: the last parts' images are written.
        if (PartImageCaptureServiceCollectionExtensions.Enabled(configuration)) services.AddHostedService(sp => sp.GetRequiredService<Station.Capture.PartImageWriter>());
        services.AddHostedService<RecordStage>();
        services.AddHostedService<InspectionStage>();
        services.AddHostedService<CaptureStage>();
        return builder;
    }
}
