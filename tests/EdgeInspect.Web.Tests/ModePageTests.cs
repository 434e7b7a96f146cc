using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;
using EdgeInspect.Station.Automation;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;
using Xunit;

namespace EdgeInspect.Web.Tests;

/// <summary>Mode changes through the page in headless chromium: login, the gate, CSRF, the audit trail.</summary>
[Collection(StationCollection.Name)]
public sealed class ModePageTests(WebStation station, Browser browser)
{
    private ModeController Modes => station.Services.GetRequiredService<ModeController>();

    private int AuditCount => station.Services.GetRequiredService<IInspectionStore>().AuditEvents().Count();

    [ChromiumFact]
    public async Task ModeForm_LoggedInTechnician_MovesStationAndAuditsHerName()
    {
        await using var context = await browser.NewContextAsync(station.BaseUrl);
        var page = await context.NewPageAsync();
        await Browser.LoginAsync(page);
        var to = Modes.Current == AutomationMode.Assist ? AutomationMode.Human : AutomationMode.Assist;
        await Browser.ScreenshotAsync(page, "mode");

        await page.SelectOptionAsync("#to", to.ToWire());
        await page.FillAsync("#reason", "line 2 <b>retrofit</b>");
        await page.ClickAsync("#change");

        await Assertions.Expect(page.Locator("#result")).ToHaveClassAsync("done");
        await Assertions.Expect(page.Locator("#current-mode")).ToHaveTextAsync(to.ToWire());
        Assert.Equal(to, Modes.Current);
        await Browser.ScreenshotAsync(page, "mode-changed");

        await page.GotoAsync("/audit");
        var newest = page.Locator("#audit tbody.event").First;
        await Assertions.Expect(newest.Locator("td.kind")).ToHaveTextAsync("mode-change");
        await Assertions.Expect(newest.Locator("td.actor")).ToHaveTextAsync(WebStation.Technician);
        // The reason is shown as text, never as markup.
        await Assertions.Expect(newest.Locator("td.why")).ToContainTextAsync("line 2 <b>retrofit</b>");
        await Browser.ScreenshotAsync(page, "audit");
    }

    [ChromiumFact]
    public async Task ModeForm_ShortEvidence_RefusedWithTheGatesReason()
    {
        await using var context = await browser.NewContextAsync(station.BaseUrl);
        var page = await context.NewPageAsync();
        await Browser.LoginAsync(page);
        var before = Modes.Current;
        await Assertions.Expect(page.Locator("#gate-partial td").Nth(3)).ToContainTextAsync("more paired parts");

        await page.SelectOptionAsync("#to", "partial");
        await page.FillAsync("#reason", "try automation");
        await page.ClickAsync("#change");

        await Assertions.Expect(page.Locator("#result")).ToHaveClassAsync("refused");
        string reason = await page.InnerTextAsync("#result-reason");
        Assert.StartsWith("gate refused: only ", reason);
        Assert.Contains($"{WebStation.GateMinPaired} required for partial", reason);
        Assert.Equal(before, Modes.Current);
        var audit = station.Services.GetRequiredService<IInspectionStore>().AuditEvents().OrderBy(e => e.At).Last();
        Assert.Equal(("mode-change-refused", WebStation.Technician, "web"), (audit.Kind, audit.Actor, audit.Source));
        Assert.EndsWith(reason, audit.Reason);
        await Browser.ScreenshotAsync(page, "mode-refused");
    }

    [ChromiumFact]
    public async Task ModeChange_WithoutLogin_RefusedAndNotAudited()
    {
        await using var context = await browser.NewContextAsync(station.BaseUrl);
        var page = await context.NewPageAsync();
        await page.GotoAsync("/mode");
        await Assertions.Expect(page.Locator("#login-needed")).ToBeVisibleAsync();
        Assert.Equal(0, await page.Locator("#mode-form").CountAsync());
        var before = (Modes.Current, AuditCount);

        var response = await context.APIRequest.PostAsync("/mode", new() { Form = Form(context, "assist", "no login") });

        Assert.Equal(401, response.Status);
        Assert.Equal(before, (Modes.Current, AuditCount));
    }

    [ChromiumFact]
    public async Task ModeChange_ForgedPostWithoutCsrfToken_Refused()
    {
        await using var context = await browser.NewContextAsync(station.BaseUrl);
        var page = await context.NewPageAsync();
        await Browser.LoginAsync(page); // the session cookie is valid: only the token is missing
        var before = (Modes.Current, AuditCount);
        var to = Modes.Current == AutomationMode.Human ? "shadow" : "human";

        var missing = await context.APIRequest.PostAsync("/mode", new() { Form = Form(context, to, "forged") });
        var form = Form(context, to, "forged");
        form.Set("__csrf", "not-the-token");
        var wrong = await context.APIRequest.PostAsync("/mode", new() { Form = form });

        Assert.Equal(400, missing.Status);
        Assert.Equal(400, wrong.Status);
        Assert.Contains("security token", await missing.TextAsync());
        Assert.Equal(before, (Modes.Current, AuditCount));
    }

    [ChromiumFact]
    public async Task Login_WrongPassword_RefusedWithoutSession()
    {
        await using var context = await browser.NewContextAsync(station.BaseUrl);
        var page = await context.NewPageAsync();
        await page.GotoAsync("/login");
        await page.FillAsync("#name", WebStation.Technician);
        await page.FillAsync("#password", "wrong");
        await page.ClickAsync("#login");
        await Assertions.Expect(page.Locator("#login-error")).ToHaveTextAsync("Wrong name or password.");
        await page.GotoAsync("/mode");
        await Assertions.Expect(page.Locator("#login-needed")).ToBeVisibleAsync();
    }

    private static IFormData Form(IBrowserContext context, string to, string reason)
    {
        var form = context.APIRequest.CreateFormData();
        form.Set("to", to);
        form.Set("reason", reason);
        return form;
    }
}
