using EdgeInspect.Core.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Storage.LiteDb;

/// <summary>Registers the LiteDB store with dependency injection.</summary>
public static class StorageServiceCollectionExtensions
{
    /// <summary>
    /// Registers the LiteDB store as <see cref="IInspectionStore"/>, <see cref="IOutboxQueue"/> and itself (one singleton),
    /// bound from the "Store" section and validated when first resolved (the composition root should resolve it at start).
    /// </summary>
    public static IServiceCollection AddEdgeInspectStorage(this IServiceCollection services, IConfiguration configuration)
    {
        var options = new StoreOptions();
        configuration.GetSection(StoreOptions.SectionName).Bind(options);
        options.Validate();
        services.AddSingleton(options);
        services.AddSingleton(sp => new LiteDbInspectionStore(options, sp.GetService<TimeProvider>() ?? TimeProvider.System,
            sp.GetService<ILogger<LiteDbInspectionStore>>()));
        services.AddSingleton<IInspectionStore>(sp => sp.GetRequiredService<LiteDbInspectionStore>());
        services.AddSingleton<IOutboxQueue>(sp => sp.GetRequiredService<LiteDbInspectionStore>());
        return services;
    }
}
