using EdgeInspect.Core.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Xunit;

namespace EdgeInspect.Web.Tests;

/// <summary>The read-only pages render in chromium with their content; each is saved as a screenshot.</summary>
[Collection(StationCollection.Name)]
public sealed class PagesTests(WebStation station, Browser browser)
{
    [ChromiumFact]
    public async Task ShadowPage_PairedParts_ShowsConfusionPerClassFiguresAndLatestDisagreements()
    {
        await using var context = await browser.NewContextAsync(station.BaseUrl);
        var page = await context.NewPageAsync();
        await Task.Delay(1000); // a few paired parts
        var store = station.Services.GetRequiredService<IInspectionStore>();
        var disagreed = store.Records().Where(r => r.Agreement == false).Select(r => r.PartId).ToList();
        await page.GotoAsync("/shadow");
        // Newest first: the page's first row is the latest disagreement stored by the time it rendered.
        var rows = page.Locator("#disagreements tbody tr");
        if (disagreed.Count == 0) Assert.True(await rows.CountAsync() >= 1);
        else
        {
            Assert.InRange(await rows.CountAsync(), Math.Min(disagreed.Count, 20), 20);
            var shown = await page.Locator("#disagreements tbody tr td:nth-child(2)").AllInnerTextsAsync();
            var stored = store.Records().Where(r => r.Agreement == false).Select(r => r.PartId).ToHashSet();
            Assert.All(shown, part => Assert.Contains(part, stored));
        }
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
