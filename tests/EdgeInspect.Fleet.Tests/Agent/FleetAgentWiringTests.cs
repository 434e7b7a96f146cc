using EdgeInspect.Cli.Fleet;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Storage;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Fleet.Protocol.Signing;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Fleet;
using EdgeInspect.Station.Fleet.Commands;
using EdgeInspect.Station.Fleet.Mqtt;
using EdgeInspect.Station.Fleet.Slots;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Station.VirtualLine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Agent;

/// <summary>AddEdgeInspectFleetAgent: config keys, validation at start naming the key, the agent as the engine's observer.</summary>
public sealed class FleetAgentWiringTests
{
    private static ServiceCollection Station(InMemoryInspectionStore store)
    {
        var services = new ServiceCollection();
        var time = TimeProvider.System;
        var modes = new ModeController(store, new AutomationGate(new GateOptions()), time);
        services.AddSingleton<IInspectionStore>(store);
        services.AddSingleton(modes);
        services.AddSingleton<IInspectorHost>(new InspectorHost(new SimulatedModelInspector()));
        services.AddSingleton(sp => new StationEngine(new StationOptions(), sp.GetRequiredService<IInspectorHost>(), modes, store,
            new SimulatedStationOutputs(), null, time, observers: sp.GetServices<IPartObserver>()));
        return services;
    }

    [Fact]
    public async Task AddEdgeInspectFleetAgent_FleetSection_AgentAttachedToEngineAndStatusReported()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        var pub = Path.Combine(tmp.Path, "fleet.pub");
        File.WriteAllText(pub, PackageKeys.ExportPublicPem(key));
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Device:Id"] = "dev-07",
            ["Fleet:TrustedKeys:0"] = pub,
            ["Fleet:SlotsFolder"] = tmp.Sub("data"),
            ["Fleet:Promotion:MinParts"] = "50",
            ["Fleet:Rollback:MaxErrorRate"] = "0.1",
            ["Fleet:Rollback:MaxLatencyMs"] = "250",
            ["Fleet:Operators:0:Key"] = pub,
            ["Fleet:Operators:0:Role"] = "operate",
            ["Fleet:Operators:0:Name"] = "line-lead",
            ["Fleet:AllowRemoteOverride"] = "true",
        }).Build();
        using var store = new InMemoryInspectionStore();
        var services = Station(store);

        services.AddEdgeInspectFleetAgent(config);
        await using var sp = services.BuildServiceProvider();
        foreach (var h in sp.GetServices<IHostedService>()) await h.StartAsync(default);

        var engine = sp.GetRequiredService<StationEngine>();
        Assert.Same(sp.GetRequiredService<FleetAgent>(), Assert.Single(engine.Observers));
        var options = sp.GetRequiredService<FleetAgentOptions>();
        Assert.Equal(50, options.Promotion.MinParts);
        Assert.Equal(250, options.Rollback.MaxLatencyMs);
        Assert.True(options.AllowRemoteOverride);
        var op = Assert.Single(sp.GetRequiredService<OperatorKeys>().Keys);
        Assert.Equal((PackageKeys.KeyId(key), OperatorRole.Operate, "line-lead"), (op.KeyId, op.Role, op.Name));
        var status = FleetAgentServiceCollectionExtensions.DeviceStatus(sp);
        Assert.Equal("shadow", status.Mode);
        Assert.Equal("simulated", status.ActiveModel);
        Assert.Equal("serving", status.Fleet!["modelState"]!.GetValue<string>());
        foreach (var h in sp.GetServices<IHostedService>()) await h.StopAsync(default);
    }

    [Fact]
    public void AddEdgeInspectFleetAgent_MissingKeyFile_FailsAtStartNamingTheKey()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Fleet:TrustedKeys:0"] = "/nonexistent/fleet.pub",
        }).Build();

        using var sp = Station(new InMemoryInspectionStore()).AddEdgeInspectFleetAgent(config).BuildServiceProvider();
        var e = Assert.Throws<OptionsValidationException>(() => sp.GetRequiredService<IStartupValidator>().Validate());

        Assert.StartsWith("Fleet:TrustedKeys:0", Assert.Single(e.Failures));
    }

    [Fact]
    public void AddEdgeInspectFleetAgent_BadLimit_FailsNamingTheKey()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Fleet:TrustedKeys:0"] = "k.pub",
            ["Fleet:Rollback:MaxErrorRate"] = "1.5",
        }).Build();

        using var sp = Station(new InMemoryInspectionStore()).AddEdgeInspectFleetAgent(config).BuildServiceProvider();
        var e = Assert.Throws<OptionsValidationException>(() => sp.GetRequiredService<IStartupValidator>().Validate());

        Assert.Contains("Fleet:Rollback:MaxErrorRate", Assert.Single(e.Failures));
    }

    [Fact]
    public void AddEdgeInspectFleetAgent_NoFleetSection_RegistersNothing()
    {
        var services = Station(new InMemoryInspectionStore());
        var before = services.Count;

        services.AddEdgeInspectFleetAgent(new ConfigurationBuilder().Build());

        Assert.Equal(before, services.Count);
    }

    [Theory]
    [InlineData("/nonexistent/operator.pub", "operate", "Fleet:Operators:0:Key: file '/nonexistent/operator.pub' not found")]
    [InlineData("PUB", "admin", "Fleet:Operators:0:Role: 'admin' is not a role")]
    [InlineData("PRIVATE", "observe", "Fleet:Operators:0:Key: ")]
    public void AddEdgeInspectFleetAgent_BadOperator_FailsAtStartNamingTheKey(string keyFile, string role, string expected)
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        var pub = Path.Combine(tmp.Path, "fleet.pub");
        File.WriteAllText(pub, PackageKeys.ExportPublicPem(key));
        var priv = Path.Combine(tmp.Path, "operator.key");
        File.WriteAllText(priv, PackageKeys.ExportPrivatePem(key));
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Fleet:TrustedKeys:0"] = pub,
            ["Fleet:SlotsFolder"] = tmp.Sub("data"),
            ["Fleet:Operators:0:Key"] = keyFile switch { "PUB" => pub, "PRIVATE" => priv, _ => keyFile },
            ["Fleet:Operators:0:Role"] = role,
        }).Build();

        using var sp = Station(new InMemoryInspectionStore()).AddEdgeInspectFleetAgent(config).BuildServiceProvider();
        var e = Assert.Throws<OptionsValidationException>(() => sp.GetRequiredService<IStartupValidator>().Validate());

        Assert.StartsWith(expected, Assert.Single(e.Failures));
    }
}
