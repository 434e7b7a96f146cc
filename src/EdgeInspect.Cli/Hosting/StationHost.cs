using EdgeInspect.Core.Automation;
using System.Text.RegularExpressions;
using EdgeInspect.Cli.CommandLine;
using EdgeInspect.Core.Configuration;
using EdgeInspect.Core.Domain;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Configuration;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.Sync.Mqtt;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeInspect.Cli.Hosting;

/// <summary>The station as a worker service: a host built from one profile, started, run until a signal stops it.</summary>
public static partial class StationHost
{
    /// <summary>A host builder configured by <paramref name="profile"/> (its only configuration source) with the station module added.</summary>
    public static HostApplicationBuilder CreateBuilder(StationProfile profile, StationHostSettings settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            Args = [],
            ContentRootPath = Environment.CurrentDirectory,
            DisableDefaults = false,
        });
        builder.Configuration.AddConfiguration(profile.Configuration);
        builder.Services.AddSystemd();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddEdgeInspectStation(settings);
        return builder;
    }

    /// <summary>
    /// Starts <paramref name="host"/>, prints the station's banner, and waits for shutdown (Ctrl-C, SIGTERM).
    /// Returns the exit code, which systemd's <c>Restart=on-failure</c> acts on:
    /// <list type="bullet">
    /// <item>0 (<see cref="ExitCodes.Ok"/>): a clean stop (a signal, or a replayed source that ended).</item>
    /// <item>2 (<see cref="ExitCodes.BadInput"/>): the configuration, or a part it names (model, source, GPIO), stopped
    /// the start; one line names the key.</item>
    /// <item>70 (<see cref="ExitCodes.Software"/>): a hosted service failed (its task faulted, which stops the host), so
    /// the station was not doing its job; never reported as a clean stop.</item>
    /// <item>75 (<see cref="ExitCodes.TempFail"/>): the start failed for a reason that may heal (an I/O error such as a
    /// full disk), so systemd keeps retrying with its backoff.</item>
    /// </list>
    /// </summary>
    public static async Task<int> RunAsync(IHost host, TextWriter output, CancellationToken cancellationToken)
    {
        try
        {
            await StartAsync(host, cancellationToken);
        }
        catch (Exception e) when (StartupFailure(e) is { } message)
        {
            return CliErrors.Fail(message, ExitCodes.BadInput);
        }
        catch (Exception e) when (FailedServices(host) is { Count: > 0 } failedAtStart && e is not OperationCanceledException)
        {
            return CliErrors.Fail($"station could not start: {failedAtStart[0].GetType().Name} failed: {e.Message}", ExitCodes.Software);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException || e.InnerException is IOException)
        {
            return CliErrors.Fail($"station could not start: {e.Message}", ExitCodes.TempFail);
        }
        output.WriteLine(Banner(host.Services));
        await host.WaitForShutdownAsync(cancellationToken);
        var failed = FailedServices(host);
        if (failed.Count == 0) return ExitCodes.Ok;
        var first = failed[0].ExecuteTask!.Exception?.GetBaseException();
        return CliErrors.Fail($"station stopped: {failed[0].GetType().Name} failed: {first?.Message}", ExitCodes.Software);
    }

    /// <summary>The hosted background services whose task faulted (the host stops when one does).</summary>
    public static IReadOnlyList<BackgroundService> FailedServices(IHost host) =>
        [.. host.Services.GetServices<IHostedService>().OfType<BackgroundService>().Where(s => s.ExecuteTask is { IsFaulted: true })];

    /// <summary>
    /// Validates every options section, then starts the host. The generic host resolves its hosted services (and so
    /// opens the store, the camera and the model) before it runs the start-up validation; validating first means a
    /// bad value is refused before anything is opened or written.
    /// </summary>
    public static async Task StartAsync(IHost host, CancellationToken cancellationToken = default)
    {
        host.Services.GetService<IStartupValidator>()?.Validate();
        await host.StartAsync(cancellationToken);
    }

    /// <summary>One line a technician can act on, or null for a failure that is not the configuration's.</summary>
    public static string? StartupFailure(Exception e) => e switch
    {
        AggregateException { InnerExceptions.Count: > 0 } a => StartupFailure(a.InnerExceptions[0]),
        OptionsValidationException v => ValidatedOptions.FirstFailure(v),
        ConfigValueException c => c.Message,
        InvalidOperationException i when BinderFailure().Match(i.Message) is { Success: true } m =>
            $"{m.Groups["key"].Value}: '{m.Groups["value"].Value}' is not a valid {m.Groups["type"].Value.Replace("System.", "", StringComparison.Ordinal)}",
        _ => null,
    };

    /// <summary>The configuration binder's message for a value of the wrong type.</summary>
    [GeneratedRegex(@"Failed to convert configuration value '(?<value>[^']*)' at '(?<key>[^']+)' to type '(?<type>[^']+)'")]
    private static partial Regex BinderFailure();

    private static string Banner(IServiceProvider services)
    {
        var device = services.GetRequiredService<IOptions<DeviceOptions>>().Value;
        var model = services.GetRequiredService<IInspectorHost>().Current;
        var uplink = services.GetRequiredService<IOptions<MqttUplinkOptions>>().Value;
        return $"station {device.Id}/{device.Station}: source {services.GetRequiredService<Core.Imaging.IFrameSource>().Name}, " +
            $"model {model?.ModelName} {model?.ModelVersion}, mode {services.GetRequiredService<ModeController>().Current.ToWire()}, " +
            $"store {Path.GetFullPath(services.GetRequiredService<IOptions<StoreOptions>>().Value.Path)}, " +
            $"uplink {(uplink.Enabled ? $"{uplink.Host}:{uplink.Port}" : "off (records buffer locally)")}" +
            (services.GetService<Web.WebHostedService>() is { } web ? $", page {string.Join(" ", web.Addresses)}" : "") + "; Ctrl-C to stop";
    }
}
