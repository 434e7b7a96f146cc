using EdgeInspect.Cli.Hosting;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Core.Storage;
using EdgeInspect.Station.Fleet.Slots;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Station.VirtualLine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit;

namespace EdgeInspect.Station.Tests.Hosting;

/// <summary>A whole station built through <see cref="StationServiceCollectionExtensions.AddEdgeInspectStation"/>, as `run` builds it.</summary>
public sealed class StationHostTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ei-host-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>A model stand-in: the station's seam for the package loader.</summary>
    private sealed class SimulatedLoader : IInspectorLoader
    {
        public List<string> Loaded { get; } = [];

        public IInspector Load(string packageFolder)
        {
            Loaded.Add(packageFolder);
            return new SimulatedModelInspector(0.9);
        }
    }

    private HostApplicationBuilder Builder(Dictionary<string, string?> overrides, IInspectorLoader? loader = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Device:Id"] = "host-001",
            ["Source:Kind"] = "virtual-line",
            ["Source:IntervalMs"] = "10",
            ["Source:Seed"] = "3",
            ["HumanInspector:MeanDelayMs"] = "1",
            ["Automation:InitialMode"] = "shadow",
            ["Store:Path"] = Path.Combine(_dir, "ei.db"),
            ["Model:Package"] = "models/virtual-line",
        };
        foreach (var (k, v) in overrides) settings[k] = v;
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Logging.ClearProviders();
        builder.AddEdgeInspectStation(new StationHostSettings { Progress = TextWriter.Null, PackageSearchRoot = _dir });
        if (loader is not null) builder.Services.AddSingleton(loader);
        return builder;
    }

    [Fact]
    public async Task AddEdgeInspectStation_SimulatedParts_EveryPartStoredInOrderWithHumanPairs()
    {
        var loader = new SimulatedLoader();
        Directory.CreateDirectory(Path.Combine(_dir, "models", "virtual-line"));
        using (var host = Builder([], loader).Build())
        {
            await StationHost.StartAsync(host);
            var engine = host.Services.GetRequiredService<StationEngine>();
            for (int i = 0; i < 200 && engine.Counters.PartsInspected < 20; i++) await Task.Delay(50);
            await host.StopAsync();
            Assert.True(engine.Counters.PartsInspected >= 20, $"only {engine.Counters.PartsInspected} parts in 10 s");
            Assert.Equal([Path.Combine(_dir, "models/virtual-line")], loader.Loaded.Select(p => p.Replace('\\', '/')).ToList());

            var records = host.Services.GetRequiredService<IInspectionStore>().Records().ToList();
            Assert.Equal(engine.Counters.PartsInspected, records.Count);
            Assert.Equal(Enumerable.Range(1, records.Count).Select(i => (long)i), records.Select(r => r.Sequence));
            Assert.All(records, r => Assert.Equal("host-001", r.DeviceId));
            Assert.All(records, r => Assert.Equal(AutomationMode.Shadow, r.Mode));
            Assert.All(records, r => Assert.Equal("simulated", r.ModelName));
            Assert.All(records, r => Assert.NotNull(r.HumanVerdict));
        }
    }

    [Theory]
    [InlineData("Source:IntervalMs", "-5", "Source:IntervalMs: must be 0..60000")]
    [InlineData("Gpio:ModeKeyA", "17", "Gpio:ModeKeyA: pin 17 is already used by Gpio:ButtonOk")]
    [InlineData("Automation:InitialMode", "autopilot", "Automation:InitialMode: must be human")]
    [InlineData("Store:BudgetBytes", "1000", "Store:BudgetBytes: 1000 is below the 1 MiB minimum")]
    [InlineData("Uplink:Port", "70000", "Uplink:Port: 70000 is not a TCP port")]
    [InlineData("Telemetry:IntervalSeconds", "0.5", "Telemetry:IntervalSeconds: 0.5 is below the 1 s minimum")]
    [InlineData("Model:Lanes", "99", "Model:Lanes: must be 0..16")]
    [InlineData("Source:IntervalMs", "fast", "Source:IntervalMs: 'fast' is not a valid Int32")]
    public async Task StartAsync_BadValue_RefusedNamingTheKey(string key, string value, string expected)
    {
        using var host = Builder(new() { [key] = value }, new SimulatedLoader()).Build();
        var e = await Assert.ThrowsAnyAsync<Exception>(() => StationHost.StartAsync(host));
        Assert.StartsWith(expected, StationHost.StartupFailure(e));
        Assert.False(File.Exists(Path.Combine(_dir, "ei.db")), "nothing is written before the configuration is valid");
    }

    [Fact]
    public async Task StartAsync_MissingModelPackage_RefusedNamingModelPackage()
    {
        using var host = Builder(new() { ["Model:Package"] = Path.Combine(_dir, "no-such-model") }).Build();
        var e = await Assert.ThrowsAnyAsync<Exception>(() => StationHost.StartAsync(host));
        Assert.StartsWith("Model:Package: ", StationHost.StartupFailure(e));
    }

    [Fact]
    public async Task StartAsync_UnreadableReplayFolder_RefusedNamingSourceUri()
    {
        using var host = Builder(new() { ["Source:Kind"] = "folder", ["Source:Uri"] = Path.Combine(_dir, "no-such-folder") }, new SimulatedLoader()).Build();
        var e = await Assert.ThrowsAnyAsync<Exception>(() => StationHost.StartAsync(host));
        Assert.StartsWith("Source:Uri: ", StationHost.StartupFailure(e));
    }
}
