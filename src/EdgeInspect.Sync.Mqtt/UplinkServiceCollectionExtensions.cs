using EdgeInspect.Core.Configuration;
using EdgeInspect.Core.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeInspect.Sync.Mqtt;

/// <summary>Registration of the MQTT uplink.</summary>
public static class UplinkServiceCollectionExtensions
{
    /// <summary>
    /// Registers the MQTT uplink from the "Uplink" section (validated when the host starts, naming the bad key). With no Uplink:Host the
    /// station runs without a broker and the outbox just buffers. Needs an <see cref="IOutboxQueue"/> (AddEdgeInspectStorage).
    /// <see cref="DeviceMqttConnection"/> is a singleton other features (commands, model packages) can subscribe on;
    /// set <paramref name="status"/> to fill the birth message (mode, active model).
    /// </summary>
    public static IServiceCollection AddEdgeInspectUplink(this IServiceCollection services, IConfiguration configuration,
        Func<IServiceProvider, DeviceStatusInfo>? status = null)
    {
        services.AddValidatedSection<MqttUplinkOptions>(configuration, MqttUplinkOptions.SectionName, o => o.Validate());
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<MqttUplinkOptions>>().Value);
        // Whether there is a broker at all decides what is registered, so it is read now; the rest binds at start.
        if (string.IsNullOrWhiteSpace(configuration[$"{MqttUplinkOptions.SectionName}:{nameof(MqttUplinkOptions.Host)}"])) return services;
        services.AddSingleton(sp => new DeviceMqttConnection(sp.GetRequiredService<MqttUplinkOptions>(), sp.GetService<TimeProvider>(),
            sp.GetService<ILogger<DeviceMqttConnection>>(), status is null ? null : () => status(sp)));
        services.AddSingleton(sp => new OutboxUplink(sp.GetRequiredService<IOutboxQueue>(), sp.GetRequiredService<DeviceMqttConnection>(),
            sp.GetRequiredService<MqttUplinkOptions>(), sp.GetService<ILogger<OutboxUplink>>()));
        services.AddHostedService<UplinkHostedService>();
        return services;
    }
}

/// <summary>Starts the connection loop and the outbox drainer with the host; stops them (offline status) on shutdown.</summary>
internal sealed class UplinkHostedService(DeviceMqttConnection connection, OutboxUplink uplink) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await connection.StartAsync(CancellationToken.None);
        await uplink.StartAsync(CancellationToken.None);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await uplink.StopAsync();
        await connection.StopAsync(cancellationToken);
    }
}
