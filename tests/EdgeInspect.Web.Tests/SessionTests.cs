using System.Net;
using System.Text.RegularExpressions;
using EdgeInspect.Cli.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EdgeInspect.Web.Tests;

/// <summary>The technician's session on the station's clock (a fake one here: no parts flow, only the session is under test).</summary>
public sealed partial class SessionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ei-websession-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); }
        catch (IOException) { /* the system cleans its temp folder */ }
    }

    [GeneratedRegex("name=\"__csrf\" value=\"([^\"]+)\"")]
    private static partial Regex CsrfField();

    [Fact]
    public async Task Session_PastSessionMinutes_LoginNeededAgain()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var builder = WebStation.CreateBuilder(_dir, new Dictionary<string, string?> { ["Web:SessionMinutes"] = "30" });
        builder.Services.AddSingleton<TimeProvider>(time);
        using var host = builder.Build();
        await StationHost.StartAsync(host);
        try
        {
            var baseUrl = new Uri(host.Services.GetRequiredService<WebHostedService>().Addresses.Single());
            using var handler = new HttpClientHandler { CookieContainer = new CookieContainer(), AllowAutoRedirect = false };
            using var http = new HttpClient(handler) { BaseAddress = baseUrl };
            string loginPage = await http.GetStringAsync(new Uri("/login", UriKind.Relative));
            using var login = await http.PostAsync(new Uri("/login", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["__csrf"] = CsrfField().Match(loginPage).Groups[1].Value,
                ["name"] = WebStation.Technician,
                ["password"] = WebStation.Password,
                ["returnUrl"] = "/mode",
            }));
            Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
            Assert.Contains("id=\"mode-form\"", await http.GetStringAsync(new Uri("/mode", UriKind.Relative)));

            time.Advance(TimeSpan.FromMinutes(29));
            Assert.Contains("id=\"mode-form\"", await http.GetStringAsync(new Uri("/mode", UriKind.Relative)));
            time.Advance(TimeSpan.FromMinutes(2));
            string expired = await http.GetStringAsync(new Uri("/mode", UriKind.Relative));
            Assert.Contains("id=\"login-needed\"", expired);
            Assert.DoesNotContain("id=\"mode-form\"", expired);
        }
        finally
        {
            await host.StopAsync();
        }
    }
}
