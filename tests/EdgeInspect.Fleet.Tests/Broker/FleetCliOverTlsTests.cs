using System.Text.Json.Nodes;
using EdgeInspect.Station.Fleet;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Broker;

/// <summary>
/// The operator's happy path on the production broker setup (device-config/broker: TLS, client certificates, ACL), all
/// through edgeinspect-fleet's own code (<see cref="FleetCli.RunAsync"/>) with keys it made: keygen, pack, push, status,
/// promote once the gate is met, rollback. The station runs real ONNX models and frames throughout.
/// </summary>
[Collection("station")] // one station at a time: they share two CPU cores with everything else on the machine
[Trait(TestCategories.Name, TestCategories.Slow)]
public sealed class FleetCliOverTlsTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [FleetStationFact]
    public async Task FleetCli_TlsBrokerWithAcl_KeygenPackPushStatusPromoteRollback()
    {
        await using var broker = await TlsBroker.StartAsync([StationRig.DeviceId], StationRig.Prefix);
        using var tmp = new TempDir();
        var keys = tmp.Sub("keys");
        var packageKeygen = await Fleet([], "keygen", "--out", keys);
        var operatorKeygen = await Fleet([], "keygen", "--operator", "--name", "line-lead", "--out", keys);
        Assert.True(packageKeygen.Rc == 0 && operatorKeygen.Rc == 0, packageKeygen.Err + operatorKeygen.Err);
        // The device trusts the tool's package key and lists the operator key with the operate role: promote within
        // the gate and rollback, no override.
        await using var rig = await StationRig.StartAsync(o =>
        {
            o.TrustedKeys = [Path.Combine(keys, "fleet.pub")];
            o.Operators.Clear();
            o.Operators.Add(new OperatorOptions { Key = Path.Combine(keys, "line-lead.pub"), Role = "operate", Name = "line-lead" });
            o.AllowRemoteOverride = false;
        }, rigBroker: broker.ForStation(StationRig.DeviceId));
        await StationRig.Until(() => rig.ProcessedCount >= 5, "first frames");
        string[] remote = [.. broker.FleetArgs, "--device", StationRig.DeviceId, "--timeout", "60"];
        string[] signed = [.. remote, "--key", Path.Combine(keys, "line-lead.key")];

        var folder = StationRig.CopyAndSign(SmokePackage.Folder, Path.Combine(tmp.Path, "smoke"), rig.Key, 1);
        var archive = Path.Combine(tmp.Path, "smoke-v2.tar");
        var pack = await Fleet([], "pack", folder, "--key", Path.Combine(keys, "fleet.key"), "--out", archive, "--version", "2");
        Assert.True(pack.Rc == 0, pack.Err);

        var push = await Fleet(remote, "push", archive, "--key", Path.Combine(keys, "fleet.key"), "--chunk-size", "65536");
        Assert.True(push.Rc == 0, push.Out + push.Err);
        Assert.Contains($"{StationRig.DeviceId,-16} installed", push.Out);

        var status = await Fleet(signed, "status");
        Assert.True(status.Rc == 0, status.Out + status.Err);
        Assert.Contains("\"modelState\":\"candidate-shadow\"", status.Out);

        await StationRig.Until(() => rig.Agent.Status()["shadow"]?["pairedWithHuman"]?.GetValue<long>() >= 15, "candidate shadow evidence (gate: 15 parts)");
        var promote = await Fleet(signed, "promote", "--reason", "gate met on the TLS broker");
        Assert.True(promote.Rc == 0, promote.Out + promote.Err);
        await StationRig.Until(() => rig.Snapshot().Any(p => p.Record.ModelVersion == "2"), "v2 serving");

        var promoted = await Fleet(signed, "status");
        Assert.True(promoted.Rc == 0, promoted.Err);
        Assert.Equal("2", ActiveVersion(promoted.Out));

        var rollback = await Fleet(signed, "rollback", "--reason", "back to v1 on the TLS broker");
        Assert.True(rollback.Rc == 0, rollback.Out + rollback.Err);
        var afterRollback = rig.ProcessedCount;
        await StationRig.Until(() => rig.ProcessedCount >= afterRollback + 10, "frames after the rollback");
        var rolledBack = await Fleet(signed, "status");
        Assert.True(rolledBack.Rc == 0, rolledBack.Err);
        Assert.Equal("1", ActiveVersion(rolledBack.Out));
        await rig.StopFramesAsync();

        rig.AssertNoFrameDropped();
        var actors = rig.Store.AuditEvents().Where(e => e.Kind is "model-promoted" or "model-rolled-back").Select(e => e.Actor).ToList();
        Assert.Equal(2, actors.Count);
        Assert.All(actors, a => Assert.Contains("(line-lead)", a));
        output.WriteLine($"frames {rig.Produced}; broker log:\n{broker.Broker.ReadLog()}");
    }

    /// <summary>The JSON the status verb printed for the one device: <c>&lt;device&gt; ok {...}</c>.</summary>
    private static string ActiveVersion(string statusOut)
    {
        var json = statusOut[statusOut.IndexOf('{', StringComparison.Ordinal)..];
        return JsonNode.Parse(json)!["active"]!["version"]!.GetValue<string>();
    }

    private static async Task<(int Rc, string Out, string Err)> Fleet(string[] common, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var rc = await FleetCli.RunAsync([.. args, .. common], o, e);
        return (rc, o.ToString(), e.ToString());
    }
}
