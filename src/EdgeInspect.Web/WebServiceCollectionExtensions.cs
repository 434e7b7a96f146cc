using EdgeInspect.Core.Configuration;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Web.Live;
using EdgeInspect.Web.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EdgeInspect.Web;

/// <summary>Registration of the technician's page.</summary>
public static class WebServiceCollectionExtensions
{
    /// <summary>
    /// Registers the page from the "Web" section when <c>Web:Enabled</c> is true (read now, like the uplink's host;
    /// the rest is bound and validated when the host starts, naming the bad key): the live-frame copy and the metrics
    /// counters as part observers of the station's engine, the live frame encoder, and Kestrel as a hosted service.
    /// Needs the station's singletons (ModeController, StationEngine, IInspectionStore) registered.
    /// </summary>
    public static IServiceCollection AddEdgeInspectWeb(this IServiceCollection services, IConfiguration configuration)
    {
        if (!configuration.GetValue<bool>($"{WebOptions.SectionName}:{nameof(WebOptions.Enabled)}")) return services;
        services.AddValidatedSection<WebOptions>(configuration, WebOptions.SectionName, o => o.Validate());
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<WebOptions>>().Value);
        services.AddSingleton<LiveFrameObserver>();
        services.AddSingleton<IPartObserver>(sp => sp.GetRequiredService<LiveFrameObserver>());
        services.AddSingleton<StationMetrics>();
        services.AddSingleton<IPartObserver>(sp => sp.GetRequiredService<StationMetrics>());
        services.AddSingleton<LiveFrameEncoder>();
        services.AddHostedService(sp => sp.GetRequiredService<LiveFrameEncoder>());
        services.AddSingleton(sp => new StationContext(sp, sp.GetRequiredService<WebOptions>(), sp.GetRequiredService<LiveFrameObserver>(),
            sp.GetRequiredService<LiveFrameEncoder>(), sp.GetRequiredService<StationMetrics>()));
        services.AddSingleton<WebHostedService>();
        services.AddHostedService(sp => sp.GetRequiredService<WebHostedService>());
        return services;
    }
}
