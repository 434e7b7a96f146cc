using EdgeInspect.Cli.Hosting;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Station.Fleet.Slots;
using EdgeInspect.Station.VirtualLine;
using EdgeInspect.Web;
using EdgeInspect.Web.Security;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit;

namespace EdgeInspect.Web.Tests;

/// <summary>
/// A whole station built through <see cref="StationServiceCollectionExtensions.AddEdgeInspectStation"/>, as `run` builds
/// it, with the page on a free loopback port, a simulated model, one technician and a gate that needs far more evidence
/// than the test gives it.
/// </summary>
public sealed class WebStation : IAsyncLifetime
{
    /// <summary>The technician the tests log in as.</summary>
    public const string Technician = "alice";

    /// <summary>Her password.</summary>
    public const string Password = "correct horse battery";

    /// <summary>Paired parts the gate needs: never reached in a test.</summary>
    public const int GateMinPaired = 100_000;

    private readonly string _dir = Directory.CreateTempSubdirectory("ei-web-").FullName;

    /// <summary>The running host.</summary>
    public IHost Host { get; private set; } = null!;

    /// <summary>The page's address, for example http://127.0.0.1:41234.</summary>
    public string BaseUrl { get; private set; } = "";

    /// <summary>The station's services.</summary>
    public IServiceProvider Services => Host.Services;

    /// <summary>Where the tests' screenshots go: TEST_ARTIFACTS, else a temp folder.</summary>
    public static string Artifacts { get; } = Directory.CreateDirectory(
        Environment.GetEnvironmentVariable("TEST_ARTIFACTS") is { Length: > 0 } a ? a : Path.Combine(Path.GetTempPath(), "edgeinspect-web-artifacts")).FullName;

    private sealed class SimulatedLoader : IInspectorLoader
    {
        public IInspector Load(string packageFolder) => new SimulatedModelInspector(0.9);
    }

    /// <summary>
    /// A station builder over a store in <paramref name="dir"/> with the page on a free loopback port, one technician,
    /// the simulated model and <paramref name="overrides"/> applied last.
    /// </summary>
    public static HostApplicationBuilder CreateBuilder(string dir, IReadOnlyDictionary<string, string?>? overrides = null)
    {
        Directory.CreateDirectory(Path.Combine(dir, "models", "virtual-line"));
        var settings = new Dictionary<string, string?>
        {
            ["Device:Id"] = "web-001",
            ["Source:Kind"] = "virtual-line",
            ["Source:IntervalMs"] = "100",
            ["Source:Seed"] = "3",
            ["Source:DefectRate"] = "0.8",
            ["HumanInspector:MeanDelayMs"] = "1",
            ["Automation:InitialMode"] = "shadow",
            ["Automation:GateMinPairedParts"] = GateMinPaired.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Store:Path"] = Path.Combine(dir, "ei.db"),
            ["Model:Package"] = "models/virtual-line",
            ["Telemetry:IntervalSeconds"] = "1",
            ["Web:Enabled"] = "true",
            ["Web:Urls"] = "http://127.0.0.1:0",
            ["Web:LiveFps"] = "4",
            ["Web:Technicians:0:Name"] = Technician,
            ["Web:Technicians:0:PasswordHash"] = PasswordHasher.Hash(Password, 1000),
        };
        foreach (var (k, v) in overrides ?? new Dictionary<string, string?>()) settings[k] = v;
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.ClearProviders();
        builder.AddEdgeInspectStation(new StationHostSettings { Progress = TextWriter.Null, PackageSearchRoot = dir });
        builder.Services.AddSingleton<IInspectorLoader>(new SimulatedLoader());
        return builder;
    }

    /// <inheritdoc/>
    public async Task InitializeAsync()
    {
        Host = CreateBuilder(_dir).Build();
        await StationHost.StartAsync(Host);
        BaseUrl = Host.Services.GetRequiredService<WebHostedService>().Addresses.Single().TrimEnd('/');
    }

    /// <inheritdoc/>
    public async Task DisposeAsync()
    {
        await Host.StopAsync();
        Host.Dispose();
        try { Directory.Delete(_dir, true); }
        catch (IOException) { /* a file still closing; the temp folder is cleaned by the system */ }
    }
}
