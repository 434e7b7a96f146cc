using Microsoft.Playwright;
using Xunit;

namespace EdgeInspect.Web.Tests;

/// <summary>The read-only pages render in chromium with their content; each is saved as a screenshot.</summary>
[Collection(StationCollection.Name)]
public sealed class PagesTests(WebStation station, Browser browser)
{
    [ChromiumFact]
    public async Task ShadowPage_PairedParts_ShowsConfusionAndPerClassFigures()
    {
        await using var context = await browser.NewContextAsync(station.BaseUrl);
        var page = await context.NewPageAsync();
        await Task.Delay(1000); // a few paired parts
        await page.GotoAsync("/shadow");
        Assert.True(int.Parse(await page.InnerTextAsync("#shadow-paired"), System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.True(await page.Locator("#confusion tbody tr").CountAsync() >= 2);
        await Assertions.Expect(page.Locator("#per-class tbody tr").First).ToContainTextAsync("ok");
        await Browser.ScreenshotAsync(page, "shadow");
    }

    [ChromiumFact]
    public async Task HealthPage_TelemetryStored_ChartsDrawnAsSvg()
    {
        await using var context = await browser.NewContextAsync(station.BaseUrl);
        var page = await context.NewPageAsync();
        await Task.Delay(2500); // telemetry every second in the test station
        await page.GotoAsync("/health");
        Assert.True(await page.Locator("#chart-latency polyline").CountAsync() == 2);
        Assert.NotEqual("", (await page.Locator("#chart-rate polyline").GetAttributeAsync("points"))?.Trim());
        await Assertions.Expect(page.Locator("#uplink")).ToContainTextAsync("not configured");
        await Assertions.Expect(page.Locator("#model-active")).ToHaveTextAsync("simulated 0");
        await Browser.ScreenshotAsync(page, "health");
    }
}
