using EdgeInspect.Fleet.Protocol.Signing;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Transfer;

/// <summary>The fleet tool's package and trust verbs against a device on a real Mosquitto.</summary>
public sealed class FleetCliTransferTests
{
    private static async Task<(int Rc, string Out, string Err)> Fleet(TransferRig rig, params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        string[] remote = ["--broker", $"{rig.Broker.Host}:{rig.Broker.Port}", "--prefix", TransferRig.Prefix, "--device", TransferRig.Device, "--timeout", "20"];
        var rc = await FleetCli.RunAsync([.. args, .. remote], o, e);
        return (rc, o.ToString(), e.ToString());
    }

    private static string Pem(TransferRig rig, string name, System.Security.Cryptography.ECDsa key)
    {
        var path = Path.Combine(rig.Tmp.Sub("keys"), name + ".key");
        File.WriteAllText(path, PackageKeys.ExportPrivatePem(key));
        return path;
    }

    [MosquittoFact]
    public async Task Push_RollbackWithOverrideOperatorKey_PermitThenLowerVersionInstalled()
    {
        await using var rig = await TransferRig.StartAsync();
        await rig.ActivateAsync(rig.Archive("v4", 4), "v4");
        var packageKey = Pem(rig, "fleet", rig.PackageKey);
        var v2 = rig.Archive("v2", 2);

        var plain = await Fleet(rig, "push", v2, "--key", packageKey, "--chunk-size", "16384", "--rollback");
        var flagOnly = await Fleet(rig, "push", v2, "--key", packageKey, "--chunk-size", "16384");
        var permitted = await Fleet(rig, "push", v2, "--key", packageKey, "--chunk-size", "16384", "--rollback",
            "--operator-key", Pem(rig, "override", rig.Ops.Override), "--reason", "v4 misses scratches");

        Assert.Equal(2, plain.Rc);
        Assert.Contains("--rollback needs --operator-key", plain.Err);
        Assert.Equal(1, flagOnly.Rc);
        Assert.Contains("refused (lower-version)", flagOnly.Out);
        Assert.True(permitted.Rc == 0, permitted.Out + permitted.Err);
        Assert.Contains("\"version\":2", permitted.Out);
        Assert.Contains(rig.Store.AuditEvents(), e => e.Kind == "rollback-permitted" && e.Reason!.StartsWith("v4 misses scratches", StringComparison.Ordinal));
    }

    [MosquittoFact]
    public async Task Revoke_PackageKeyByOverrideKey_LaterPushRefusedRevoked()
    {
        await using var rig = await TransferRig.StartAsync();
        var packageKey = Pem(rig, "fleet", rig.PackageKey);

        var observer = await Fleet(rig, "revoke", PackageKeys.KeyId(rig.PackageKey), "--reason", "build server compromised", "--key", Pem(rig, "observer", rig.Ops.Observer));
        var revoke = await Fleet(rig, "revoke", PackageKeys.KeyId(rig.PackageKey), "--reason", "build server compromised", "--key", Pem(rig, "override", rig.Ops.Override));
        var push = await Fleet(rig, "push", rig.Archive("v1", 1), "--key", packageKey, "--chunk-size", "16384");

        Assert.Equal(1, observer.Rc);
        Assert.Contains("forbidden", observer.Out);
        Assert.True(revoke.Rc == 0, revoke.Out + revoke.Err);
        Assert.Equal(1, push.Rc);
        Assert.Contains("refused (revoked-key)", push.Out);
        Assert.Contains(PackageKeys.KeyId(rig.PackageKey), File.ReadAllText(Path.Combine(rig.Data, "revoked-keys.json")));
    }
}
