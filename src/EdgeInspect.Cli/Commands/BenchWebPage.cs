using System.Diagnostics;
using EdgeInspect.Core.Storage;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Configuration;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.Web;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Cli.Commands;

/// <summary>
/// `bench pipeline --web`: the bench's station with the technician's page on, its engine built with the page's part
/// observers (the live frame copy, the metrics), and optionally a headless browser on the live page for the whole
/// run, so the page's cost shows in the station's frames per second.
/// </summary>
internal sealed class BenchWebPage : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private readonly List<IHostedService> _hosted;
    private Process? _browser;

    private BenchWebPage(ServiceProvider services)
    {
        _services = services;
        _hosted = [.. services.GetServices<IHostedService>()];
    }

    /// <summary>The station's engine, with the page's observers.</summary>
    public StationEngine Engine => _services.GetRequiredService<StationEngine>();

    /// <summary>Builds the page over the bench's store, modes and model; <paramref name="engine"/> makes the engine from the observers.</summary>
    public static BenchWebPage Create(string url, LiteDbInspectionStore store, ModeController modes, IInspectorHost inspectors, TimeProvider time,
        Func<IEnumerable<IPartObserver>, StationEngine> engine)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Web:Enabled"] = "true",
            ["Web:Urls"] = url,
        }).Build();
        var services = new ServiceCollection();
        services.AddLogging(b => b.SetMinimumLevel(LogLevel.Warning));
        services.AddSingleton(time);
        services.AddSingleton(store);
        services.AddSingleton<IInspectionStore>(store);
        services.AddSingleton(modes);
        services.AddSingleton(inspectors);
        services.AddOptions<AutomationOptions>();
        services.AddEdgeInspectWeb(configuration);
        services.AddSingleton(sp => engine(sp.GetServices<IPartObserver>()));
        return new BenchWebPage(services.BuildServiceProvider());
    }

    /// <summary>Starts the page, then the browser on its live page (headless, no network beyond loopback) when given.</summary>
    public async Task StartAsync(string url, string? browser, CancellationToken cancellationToken)
    {
        foreach (var service in _hosted) await service.StartAsync(cancellationToken);
        if (browser is null) return;
        var psi = new ProcessStartInfo(browser)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in (string[])["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--remote-debugging-port=0",
            $"--user-data-dir={Directory.CreateTempSubdirectory("edgeinspect-bench-browser-").FullName}", url.TrimEnd('/') + "/"])
        {
            psi.ArgumentList.Add(arg);
        }
        _browser = Process.Start(psi) ?? throw new InvalidOperationException($"--browser: {browser} did not start");
        _ = _browser.StandardOutput.ReadToEndAsync(cancellationToken);
        _ = _browser.StandardError.ReadToEndAsync(cancellationToken);
        await Task.Delay(TimeSpan.FromSeconds(3), cancellationToken); // the page loads and opens its event stream
        if (_browser.HasExited) throw new InvalidOperationException($"--browser: {browser} exited with {_browser.ExitCode}");
    }

    /// <summary>Stops the browser and the page.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_browser is { HasExited: false }) _browser.Kill(entireProcessTree: true);
        _browser?.Dispose();
        for (int i = _hosted.Count - 1; i >= 0; i--) await _hosted[i].StopAsync(CancellationToken.None);
        await _services.DisposeAsync();
    }
}
