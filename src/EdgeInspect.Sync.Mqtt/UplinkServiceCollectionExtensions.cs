using EdgeInspect.Core.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Sync.Mqtt;

public static class UplinkServiceCollectionExtensions
{
    /// <summary>
    /// Registers the MQTT uplink from the "Uplink" section (validated now, naming the bad key). With no Uplink:Host the
    /// station runs without a broker and the outbox just buffers. Needs an <see cref="IOutboxQueue"/> (AddEdgeInspectStorage).
    /// <see cref="DeviceMqttConnection"/> is a singleton other features (commands, model packages) can subscribe on;
    /// set <paramref name="status"/> to fill the birth message (mode, active model).
    /// </summary>
    public static IServiceCollection AddEdgeInspectUplink(this IServiceCollection services, IConfiguration configuration,
        Func<IServiceProvider, DeviceStatusInfo>? status = null)
    {
        var options = new MqttUplinkOptions();
        configuration.GetSection(MqttUplinkOptions.SectionName).Bind(options);
        options.Validate();
        services.AddSingleton(options);
        if (!options.Enabled) return services;
        services.AddSingleton(sp => new DeviceMqttConnection(options, sp.GetService<TimeProvider>(), sp.GetService<ILogger<DeviceMqttConnection>>(),
            status is null ? null : () => status(sp)));
        services.AddSingleton(sp => new OutboxUplink(sp.GetRequiredService<IOutboxQueue>(), sp.GetRequiredService<DeviceMqttConnection>(), options,
            sp.GetService<ILogger<OutboxUplink>>()));
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
