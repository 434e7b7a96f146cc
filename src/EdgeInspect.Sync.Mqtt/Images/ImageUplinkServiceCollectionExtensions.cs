using EdgeInspect.Core.Configuration;
using EdgeInspect.Core.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeInspect.Sync.Mqtt.Images;

/// <summary>Registration of the part-image upload.</summary>
public static class ImageUplinkServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="PartImageUplink"/> over the uplink's connection from the "ImageUplink" section (validated at
    /// start). Needs an <see cref="IPartImageQueue"/>; with no Uplink:Host there is no connection and images stay on
    /// the device (inside its disk budget) until there is one.
    /// </summary>
    public static IServiceCollection AddPartImageUplink(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedSection<ImageUplinkOptions>(configuration, ImageUplinkOptions.SectionName, o => o.Validate());
        if (string.IsNullOrWhiteSpace(configuration[$"{MqttUplinkOptions.SectionName}:{nameof(MqttUplinkOptions.Host)}"])) return services;
        services.AddSingleton(sp => new PartImageUplink(sp.GetRequiredService<IPartImageQueue>(), sp.GetRequiredService<DeviceMqttConnection>(),
            sp.GetRequiredService<IOptions<ImageUplinkOptions>>().Value, sp.GetService<TimeProvider>(), sp.GetService<ILogger<PartImageUplink>>()));
        services.AddHostedService(sp => sp.GetRequiredService<PartImageUplink>());
        return services;
    }
}
