using EdgeInspect.Core.Configuration;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Storage;
using EdgeInspect.Core.Telemetry;
using EdgeInspect.Imaging.OpenCv;
using EdgeInspect.Station.Capture;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.Sync.Mqtt.Images;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeInspect.Cli.Hosting;

/// <summary>Registration of part-image capture (the profile's "Capture" section).</summary>
public static class PartImageCaptureServiceCollectionExtensions
{
    /// <summary>True when the profile enables capture.</summary>
    public static bool Enabled(IConfiguration configuration) =>
        configuration.GetValue($"{CaptureOptions.SectionName}:{nameof(CaptureOptions.Enabled)}", defaultValue: false);

    /// <summary>
    /// Validates the Capture section (against the store's budget) at start; when enabled, registers the capture the
    /// engine reserves images with, the image folder (counted in the store's disk budget, and the uplink's image
    /// queue), the OpenCV JPEG encoder, the writer (its hosted service is added by the caller, in stage order), the
    /// upload to the cloud ingest and the counters the telemetry carries.
    /// </summary>
    public static IServiceCollection AddPartImageCapture(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddValidatedSection<CaptureOptions>(configuration, CaptureOptions.SectionName, o =>
            o.Validate(configuration.GetValue($"{StoreOptions.SectionName}:{nameof(StoreOptions.BudgetBytes)}", 0L)));
        if (!Enabled(configuration)) return services;
        var storePath = configuration[$"{StoreOptions.SectionName}:{nameof(StoreOptions.Path)}"] ?? new StoreOptions().Path;
        var folder = new CaptureOptions { Folder = configuration[$"{CaptureOptions.SectionName}:{nameof(CaptureOptions.Folder)}"] }.EffectiveFolder(storePath);
        services.PostConfigure<StoreOptions>(o => o.ImageFolder ??= folder);
        services.AddSingleton(_ => new PartImageFolder(folder));
        services.AddSingleton<IPartImageQueue>(sp => sp.GetRequiredService<PartImageFolder>());
        services.AddSingleton<IJpegEncoder, OpenCvJpegEncoder>();
        services.AddSingleton(sp => new PartImageCapture(sp.GetRequiredService<IOptions<CaptureOptions>>().Value));
        services.AddSingleton(sp => new PartImageWriter(sp.GetRequiredService<PartImageCapture>(), sp.GetRequiredService<PartImageFolder>(),
            sp.GetRequiredService<IJpegEncoder>(), sp.GetRequiredService<ILogger<PartImageWriter>>()));
        services.AddPartImageUplink(configuration);
        services.AddSingleton<IPartImageCounters>(sp => new PartImageCounters(sp.GetRequiredService<PartImageCapture>(), sp.GetRequiredService<PartImageWriter>(),
            sp.GetRequiredService<PartImageFolder>(), sp.GetService<PartImageUplink>()));
        return services;
    }
}
