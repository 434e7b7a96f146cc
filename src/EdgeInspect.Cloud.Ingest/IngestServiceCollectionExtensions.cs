using EdgeInspect.Core.Configuration;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace EdgeInspect.Cloud.Ingest;

/// <summary>Registration of the cloud ingest.</summary>
public static class IngestServiceCollectionExtensions
{
    /// <summary>
    /// Registers the ingest from the "Ingest" section (validated when the host starts, naming the bad key): the
    /// PostgreSQL data source and <see cref="IngestWorker"/> as a hosted service.
    /// </summary>
    public static IServiceCollection AddEdgeInspectIngest(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedSection<IngestOptions>(configuration, IngestOptions.SectionName, o => o.Validate());
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<IngestOptions>>().Value);
        services.AddSingleton(sp => new NpgsqlDataSourceBuilder(sp.GetRequiredService<IngestOptions>().ConnectionString)
            .UseLoggerFactory(sp.GetRequiredService<ILoggerFactory>()).Build());
        services.AddSingleton(sp => new IngestWorker(sp.GetRequiredService<IngestOptions>(), sp.GetRequiredService<NpgsqlDataSource>(),
            sp.GetService<TimeProvider>(), sp.GetService<ILoggerFactory>()));
        services.AddHostedService(sp => sp.GetRequiredService<IngestWorker>());
        Images.ImageIntakeServiceCollectionExtensions.AddPartImageIntake(services, configuration);
        return services;
    }
}
