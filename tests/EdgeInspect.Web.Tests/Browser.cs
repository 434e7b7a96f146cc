using Microsoft.Playwright;
using Xunit;

namespace EdgeInspect.Web.Tests;

/// <summary>Headless Debian chromium through Playwright, launched once for the collection (lazily: absent chromium skips first).</summary>
public sealed class Browser : IAsyncLifetime
{
    private static readonly string[] Args =
        ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"];

    private IPlaywright? _playwright;
    private IBrowser? _browser;

    /// <summary>A fresh context (own cookies) with a phone-sized viewport.</summary>
    public async Task<IBrowserContext> NewContextAsync(string baseUrl)
    {
        if (_browser is null)
        {
            _playwright = await Playwright.CreateAsync();
            _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = ChromiumFactAttribute.ExecutablePath,
                Headless = true,
                Args = Args,
            });
        }
        var context = await _browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = baseUrl, ViewportSize = new ViewportSize { Width = 412, Height = 860 } });
        // CI machines are shared: generous waits, so a slow moment is not a failure (a real failure still fails).
        context.SetDefaultTimeout(60_000);
        context.SetDefaultNavigationTimeout(60_000);
        Assertions.SetDefaultExpectTimeout(20_000);
        return context;
    }

    /// <summary>Saves a full-page screenshot of <paramref name="page"/> as <c>name.png</c> in <see cref="WebStation.Artifacts"/>.</summary>
    public static Task ScreenshotAsync(IPage page, string name) =>
        page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(WebStation.Artifacts, name + ".png"), FullPage = true });

    /// <summary>Logs <paramref name="page"/> in through the login form.</summary>
    public static async Task LoginAsync(IPage page, string name = WebStation.Technician, string password = WebStation.Password)
    {
        await page.GotoAsync("/login?returnUrl=%2Fmode");
        await page.FillAsync("#name", name);
        await page.FillAsync("#password", password);
        await page.ClickAsync("#login");
        // The URL is polled and the form awaited, not the "load" event: a CI run once saw WaitForURL find /mode
        // and then wait 60 s for a load event that had already passed (network idle fired, load never did).
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/mode$"));
        await Assertions.Expect(page.Locator("#mode-form")).ToBeVisibleAsync();
    }

    /// <inheritdoc/>
    public Task InitializeAsync() => Task.CompletedTask;

    /// <inheritdoc/>
    public async Task DisposeAsync()
    {
        if (_browser is not null) await _browser.DisposeAsync();
        _playwright?.Dispose();
    }
}
