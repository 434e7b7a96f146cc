using EdgeInspect.Core.Automation;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Web;

/// <summary>
/// Kestrel inside the station's generic host: a small <see cref="WebApplication"/> built and started with the
/// station, given the station's singletons through <see cref="StationContext"/>, stopped with it. The station's
/// host stays as it is (no second process, no second store writer, no change to how <c>run</c> builds the host).
/// </summary>
public sealed class WebHostedService(StationContext station, ILoggerFactory logs) : IHostedService, IAsyncDisposable
{
    private WebApplication? _app;

    /// <summary>The addresses Kestrel listens on once started (a port 0 resolved to the port it got).</summary>
    public IReadOnlyList<string> Addresses { get; private set; } = [];

    /// <inheritdoc/>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var options = station.Options;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseUrls(options.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(logs);
        // The station's host owns Ctrl-C and SIGTERM; this inner app only starts and stops when told.
        builder.Services.AddSingleton<IHostLifetime, EmbeddedLifetime>();
        builder.Services.AddSingleton(station);
        builder.Services.AddSingleton(station.Time);
        // Keys live in memory: a restart logs technicians out, and nothing is written to the device's disk.
        builder.Services.AddDataProtection().UseEphemeralDataProtectionProvider();
        builder.Services.AddAntiforgery(o =>
        {
            o.FormFieldName = "__csrf";
            o.Cookie.Name = "edgeinspect.csrf";
            o.Cookie.SameSite = SameSiteMode.Strict;
        });
        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie(o =>
        {
            o.Cookie.Name = "edgeinspect.session";
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.ExpireTimeSpan = TimeSpan.FromMinutes(options.SessionMinutes);
            o.SlidingExpiration = false;
            o.LoginPath = "/login";
            o.ReturnUrlParameter = "returnUrl";
            o.TimeProvider = station.Time;
        });
        builder.Services.AddAuthorization();
        var app = builder.Build();
        app.UseAuthentication();
        app.MapEdgeInspectWeb();
        try { await app.StartAsync(cancellationToken); }
        catch (IOException e)
        {
            // Kestrel's "address already in use" and friends: a setting to fix, named like every other bad value.
            await app.DisposeAsync();
            throw new ConfigValueException("Web:Urls", $"{options.Urls}: {e.Message}");
        }
        _app = app;
        Addresses = [.. app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? []];
    }

    /// <inheritdoc/>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is { } app) await app.StopAsync(cancellationToken);
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _app, null) is { } app) await app.DisposeAsync();
    }
}
