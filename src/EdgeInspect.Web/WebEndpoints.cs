using System.Security.Claims;
using EdgeInspect.Core.Domain;
using EdgeInspect.Web.Live;
using EdgeInspect.Web.Metrics;
using EdgeInspect.Web.Pages;
using EdgeInspect.Web.Security;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EdgeInspect.Web;

/// <summary>The page's routes: pages, the live frame and its events, login, the mode change, /metrics, /healthz, /readyz.</summary>
public static class WebEndpoints
{
    private const string HtmlType = "text/html; charset=utf-8";

    /// <summary>Maps every route onto <paramref name="app"/>; needs <see cref="StationContext"/>, antiforgery and cookie authentication registered.</summary>
    public static IEndpointRouteBuilder MapEdgeInspectWeb(this IEndpointRouteBuilder app)
    {
        app.MapGet("/", (HttpContext c, StationContext s) => Page(LivePage.Render(s, User(c))));
        app.MapGet("/live/frame.jpg", (StationContext s) => s.Encoder.Latest is { } f ? Jpeg(f) : Results.NotFound());
        app.MapGet("/live/frame/{seq:long}.jpg", (long seq, StationContext s) => s.Encoder.Find(seq) is { } f ? Jpeg(f) : Results.NotFound());
        app.MapGet("/live/events", LiveEvents);
        app.MapGet("/mode", (HttpContext c, StationContext s, IAntiforgery af) => Page(ModePage.Render(s, User(c), Token(c, af))));
        app.MapPost("/mode", ChangeMode);
        app.MapGet("/login", (HttpContext c, IAntiforgery af, string? returnUrl) => Page(LoginPage.Render(Token(c, af), LocalOnly(returnUrl), null)));
        app.MapPost("/login", Login);
        app.MapPost("/logout", Logout);
        app.MapGet("/shadow", (HttpContext c, StationContext s) => Page(ShadowPage.Render(s, User(c))));
        app.MapGet("/health", (HttpContext c, StationContext s) => Page(HealthPage.Render(s, User(c))));
        app.MapGet("/audit", (HttpContext c, StationContext s) => Page(AuditPage.Render(s, User(c))));
        app.MapGet("/metrics", (StationContext s) => Results.Text(MetricsExporter.Render(s), PrometheusText.ContentType));
        app.MapGet("/healthz", () => Results.Text("ok\n"));
        app.MapGet("/readyz", (StationContext s) => Readiness.Check(s) is { } problem
            ? Results.Text(problem + "\n", statusCode: StatusCodes.Status503ServiceUnavailable)
            : Results.Text("ready\n"));
        return app;
    }

    private static IResult Page(string html, int status = StatusCodes.Status200OK) => Results.Text(html, HtmlType, statusCode: status);

    private static IResult Jpeg(LiveFrame f) => Results.File(f.Jpeg, "image/jpeg");

    private static string? User(HttpContext c) => c.User.Identity is { IsAuthenticated: true, Name: { } name } ? name : null;

    private static string Token(HttpContext c, IAntiforgery af) => af.GetAndStoreTokens(c).RequestToken ?? "";

    private static string LocalOnly(string? url) => url is { Length: > 0 } && url[0] == '/' && !url.StartsWith("//", StringComparison.Ordinal) && !url.StartsWith("/\\", StringComparison.Ordinal) ? url : "/mode";

    private static async Task<bool> ValidCsrf(HttpContext c, IAntiforgery af) => await af.IsRequestValidAsync(c);

    private static async Task LiveEvents(HttpContext c, StationContext s, IHostApplicationLifetime lifetime)
    {
        c.Response.ContentType = "text/event-stream";
        c.Response.Headers.CacheControl = "no-cache";
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(c.RequestAborted, lifetime.ApplicationStopping);
        long after = 0;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var frame = await s.Encoder.NextAsync(after, stop.Token);
                after = frame.Record.Sequence;
                await c.Response.WriteAsync($"id: {after}\ndata: {LivePayload.Of(frame.Record)}\n\n", stop.Token);
                await c.Response.Body.FlushAsync(stop.Token);
            }
        }
        catch (OperationCanceledException) { /* the page closed, or the station stops */ }
    }

    private static async Task<IResult> ChangeMode(HttpContext c, StationContext s, IAntiforgery af)
    {
        // Login first: an anonymous caller learns nothing about the form; then the synchronizer token.
        if (User(c) is not { } user) return Page(ModePage.Render(s, null, null, problem: "refused: log in as a technician to change the mode"), StatusCodes.Status401Unauthorized);
        if (!await ValidCsrf(c, af)) return Page(ModePage.Render(s, user, Token(c, af), problem: "refused: the form's security token is missing or wrong; reload the page"), StatusCodes.Status400BadRequest);
        var form = await c.Request.ReadFormAsync(c.RequestAborted);
        if (!AutomationModes.TryParse(form["to"], out var to)) return Page(ModePage.Render(s, user, Token(c, af), problem: "refused: unknown mode"), StatusCodes.Status400BadRequest);
        bool force = s.Options.AllowOverride && form["force"] == "true";
        var result = s.Modes.TrySetMode(to, user, "web", form["reason"].ToString().Trim(), force);
        return Page(ModePage.Render(s, user, Token(c, af), result), result.Changed ? StatusCodes.Status200OK : StatusCodes.Status409Conflict);
    }

    private static async Task<IResult> Login(HttpContext c, StationContext s, IAntiforgery af)
    {
        if (!await ValidCsrf(c, af)) return Page(LoginPage.Render(Token(c, af), "/mode", "The form's security token is missing or wrong; try again."), StatusCodes.Status400BadRequest);
        var form = await c.Request.ReadFormAsync(c.RequestAborted);
        string name = form["name"].ToString().Trim();
        string returnUrl = LocalOnly(form["returnUrl"]);
        var account = s.Options.Technicians.FirstOrDefault(t => string.Equals(t.Name, name, StringComparison.OrdinalIgnoreCase));
        // An unknown name costs the same PBKDF2 work as a wrong password, so timing does not tell names apart. One
        // check at a time: a flood of logins then takes one core at most, never the inspection's.
        bool ok;
        await Logins.WaitAsync(c.RequestAborted);
        try { ok = PasswordHasher.Verify(form["password"], account?.PasswordHash ?? DummyHash.Value) && account is not null; }
        finally { Logins.Release(); }
        if (!ok) return Page(LoginPage.Render(Token(c, af), returnUrl, "Wrong name or password."), StatusCodes.Status401Unauthorized);
        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Name, account!.Name)], CookieAuthenticationDefaults.AuthenticationScheme);
        await c.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, new ClaimsPrincipal(identity));
        return Results.Redirect(returnUrl);
    }

    private static async Task<IResult> Logout(HttpContext c, IAntiforgery af)
    {
        if (!await ValidCsrf(c, af)) return Results.BadRequest();
        await c.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        return Results.Redirect("/");
    }

    private static readonly SemaphoreSlim Logins = new(1, 1);

    private static readonly Lazy<string> DummyHash = new(() => PasswordHasher.Hash(Guid.NewGuid().ToString("N")));
}
