using EdgeInspect.Core.Configuration;
using EdgeInspect.Core.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeInspect.Storage.LiteDb;

/// <summary>Registration of the LiteDB store.</summary>
public static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// Registers the LiteDB store as <see cref="IInspectionStore"/>, <see cref="IOutboxQueue"/> and itself (one singleton),
    /// bound from the "Store" section as <see cref="IOptions{StoreOptions}"/> and validated when the host starts.
    /// </summary>
    public static IServiceCollection AddEdgeInspectStorage(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedSection<StoreOptions>(configuration, StoreOptions.SectionName, o => o.Validate());
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<StoreOptions>>().Value);
        services.AddSingleton(sp => new LiteDbInspectionStore(sp.GetRequiredService<StoreOptions>(), sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetService<ILogger<LiteDbInspectionStore>>()));
        services.AddSingleton<IInspectionStore>(sp => sp.GetRequiredService<LiteDbInspectionStore>());
        services.AddSingleton<IOutboxQueue>(sp => sp.GetRequiredService<LiteDbInspectionStore>());
        return services;
    }
}
