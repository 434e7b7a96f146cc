using EdgeInspect.Core.Configuration;
using EdgeInspect.Core.Storage;
using EdgeInspect.Core.Telemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeInspect.Sync.Mqtt.Telemetry;

/// <summary>Registration of the telemetry recorder and publisher.</summary>
public static class TelemetryServiceCollectionExtensions
{
    /// <summary>
    /// Registers telemetry from the "Telemetry" section (validated when the host starts, naming the bad key): one
    /// <see cref="TelemetryRecorder"/>, also as <see cref="ITelemetryRecorder"/> for the station pipeline, and the
    /// <see cref="TelemetryPublisher"/> hosted service. Needs an <see cref="IInspectionStore"/>; snapshots are stored
    /// when the store is also an <see cref="ITelemetryStore"/> (the LiteDB one), and published when a
    /// <see cref="DeviceMqttConnection"/> is registered (AddEdgeInspectUplink with an Uplink:Host); they carry the
    /// part-image counters when an <see cref="IPartImageCounters"/> is registered (capture on).
    /// The device id in each message comes from <c>Uplink:DeviceId</c>, else <c>Device:Id</c>.
    /// </summary>
    public static IServiceCollection AddEdgeInspectTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedSection<TelemetryOptions>(configuration, TelemetryOptions.SectionName, o => o.Validate());
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<TelemetryOptions>>().Value);
        var deviceId = configuration[$"{MqttUplinkOptions.SectionName}:DeviceId"] ?? configuration["Device:Id"] ?? new MqttUplinkOptions().DeviceId;
        services.AddSingleton(sp => new TelemetryRecorder(deviceId, sp.GetService<TimeProvider>(), sp.GetRequiredService<TelemetryOptions>().BaselineFrames));
        services.AddSingleton<ITelemetryRecorder>(sp => sp.GetRequiredService<TelemetryRecorder>());
        services.AddSingleton(sp =>
        {
            var store = sp.GetRequiredService<IInspectionStore>();
            return new TelemetryPublisher(sp.GetRequiredService<TelemetryRecorder>(), store,
                sp.GetService<ITelemetryStore>() ?? store as ITelemetryStore, sp.GetService<DeviceMqttConnection>(), sp.GetRequiredService<TelemetryOptions>(),
                sp.GetService<TimeProvider>(), sp.GetService<ILogger<TelemetryPublisher>>(), sp.GetService<IPartImageCounters>());
        });
        services.AddHostedService(sp => sp.GetRequiredService<TelemetryPublisher>());
        return services;
    }
}
