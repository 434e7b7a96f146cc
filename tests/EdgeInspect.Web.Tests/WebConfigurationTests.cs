using System.Net;
using System.Net.Sockets;
using EdgeInspect.Cli.Hosting;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Web.Live;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace EdgeInspect.Web.Tests;

/// <summary>The Web section through the station module: off by default, bad values refused at start naming the key.</summary>
public sealed class WebConfigurationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ei-webcfg-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); }
        catch (IOException) { /* the system cleans its temp folder */ }
    }

    [Fact]
    public void AddEdgeInspectStation_WebNotEnabled_NoPageAndNoObserver()
    {
        using var host = WebStation.CreateBuilder(_dir, new Dictionary<string, string?> { ["Web:Enabled"] = "false" }).Build();
        Assert.Null(host.Services.GetService<WebHostedService>());
        Assert.DoesNotContain(host.Services.GetServices<IPartObserver>(), o => o is LiveFrameObserver);
    }

    [Theory]
    [InlineData("Web:LiveFps", "0", "Web:LiveFps: ")]
    [InlineData("Web:Urls", "ftp://127.0.0.1:1", "Web:Urls: ")]
    [InlineData("Web:SessionMinutes", "0", "Web:SessionMinutes: ")]
    [InlineData("Web:Technicians:0:PasswordHash", "hunter2", "Web:Technicians:0:PasswordHash: not a hash in the format pbkdf2-sha256$")]
    public async Task StartAsync_BadWebValue_RefusedNamingTheKey(string key, string value, string expected)
    {
        using var host = WebStation.CreateBuilder(_dir, new Dictionary<string, string?> { [key] = value }).Build();
        var e = await Assert.ThrowsAnyAsync<Exception>(() => StationHost.StartAsync(host));
        Assert.StartsWith(expected, StationHost.StartupFailure(e));
        Assert.False(File.Exists(Path.Combine(_dir, "ei.db")), "nothing is written before the configuration is valid");
    }

    [Fact]
    public async Task StartAsync_PortInUse_RefusedNamingWebUrls()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        using var host = WebStation.CreateBuilder(_dir, new Dictionary<string, string?> { ["Web:Urls"] = $"http://127.0.0.1:{port}" }).Build();
        var e = await Assert.ThrowsAnyAsync<Exception>(() => StationHost.StartAsync(host));
        Assert.StartsWith($"Web:Urls: http://127.0.0.1:{port}: ", StationHost.StartupFailure(e));
        await host.StopAsync();
    }
}
