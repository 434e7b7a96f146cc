using EdgeInspect.Core.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace EdgeInspect.Cloud.Ingest.Images;

/// <summary>Registration of the part-image intake beside the ingest.</summary>
public static class ImageIntakeServiceCollectionExtensions
{
    /// <summary>Registers <see cref="PartImageIntake"/> from the "Ingest:Images" section (validated at start).</summary>
    public static IServiceCollection AddPartImageIntake(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedSection<ImageStorageOptions>(configuration, ImageStorageOptions.SectionName, o => o.Validate());
        services.AddSingleton(sp => new PartImageIntake(sp.GetRequiredService<IngestOptions>(), sp.GetRequiredService<IOptions<ImageStorageOptions>>().Value,
            sp.GetRequiredService<IngestWorker>(), sp.GetRequiredService<NpgsqlDataSource>(), sp.GetService<TimeProvider>(),
            sp.GetService<ILogger<PartImageIntake>>()));
        services.AddHostedService(sp => sp.GetRequiredService<PartImageIntake>());
        return services;
    }
}
