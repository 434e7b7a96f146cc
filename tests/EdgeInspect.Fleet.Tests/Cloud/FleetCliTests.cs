using EdgeInspect.Fleet;
using EdgeInspect.Fleet.Protocol.Packages;
using EdgeInspect.Fleet.Protocol.Signing;
using EdgeInspect.Station.Fleet.Slots;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Cloud;

public sealed class FleetCliTests
{
    private static (int Rc, string Out, string Err) Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var rc = FleetCli.RunAsync(args, o, e).GetAwaiter().GetResult();
        return (rc, o.ToString(), e.ToString());
    }

    [Fact]
    public void KeygenPackVerify_Folder_SignedArchiveTheDeviceAccepts()
    {
        using var tmp = new TempDir();
        var keys = tmp.Sub("keys");
        var (rc, output, _) = Run("keygen", "--out", keys);
        Assert.Equal(0, rc);
        using var pub = PackageKeys.ImportPublicPem(File.ReadAllText(Path.Combine(keys, "fleet.pub")), "pub");
        Assert.Contains($"key id {PackageKeys.KeyId(pub)}", output);

        using var throwaway = PackageKeys.Create();
        var folder = TestPackages.Build(tmp.Sub("pkg"), throwaway, TestPackages.Manifest(1));
        var archive = Path.Combine(tmp.Path, "pkg.tar");
        (rc, output, _) = Run("pack", folder, "--key", Path.Combine(keys, "fleet.key"), "--out", archive, "--version", "7");
        Assert.Equal(0, rc);
        Assert.Contains("packed test-defects v7", output);

        (rc, output, var err) = Run("verify", archive, "--trust", Path.Combine(keys, "fleet.pub"), "--device", "dev-01");
        Assert.True(rc == 0, err);
        Assert.StartsWith("ok test-defects v7", output);
    }

    [Fact]
    public void Keygen_ExistingKey_RefusesToOverwrite()
    {
        using var tmp = new TempDir();
        Assert.Equal(0, Run("keygen", "--out", tmp.Path).Rc);
        var before = File.ReadAllText(Path.Combine(tmp.Path, "fleet.key"));

        var (rc, _, err) = Run("keygen", "--out", tmp.Path);

        Assert.Equal(FleetExitCodes.BadInput, rc);
        Assert.Contains("already exists", err);
        Assert.Equal(before, File.ReadAllText(Path.Combine(tmp.Path, "fleet.key")));
    }

    [Fact]
    public void Pack_ManifestNamesMissingFile_OneLineErrorExitsTwo()
    {
        using var tmp = new TempDir();
        Run("keygen", "--out", tmp.Sub("k"));
        using var throwaway = PackageKeys.Create();
        var folder = TestPackages.Build(tmp.Sub("pkg"), throwaway, TestPackages.Manifest(1));
        File.Delete(Path.Combine(folder, "classifier.onnx"));

        var (rc, _, err) = Run("pack", folder, "--key", Path.Combine(tmp.Path, "k", "fleet.key"), "--out", Path.Combine(tmp.Path, "x.tar"));

        Assert.Equal(FleetExitCodes.BadInput, rc);
        Assert.StartsWith("refused (missing-file):", err);
        Assert.Contains("classifier.onnx", err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void Verify_ArchiveSignedByOtherKey_RefusedUnknownKey()
    {
        using var tmp = new TempDir();
        Run("keygen", "--out", tmp.Sub("a"));
        Run("keygen", "--out", tmp.Sub("b"));
        using var throwaway = PackageKeys.Create();
        var folder = TestPackages.Build(tmp.Sub("pkg"), throwaway, TestPackages.Manifest(1));
        var archive = Path.Combine(tmp.Path, "p.tar");
        Run("pack", folder, "--key", Path.Combine(tmp.Path, "a", "fleet.key"), "--out", archive);

        var (rc, _, err) = Run("verify", archive, "--trust", Path.Combine(tmp.Path, "b", "fleet.pub"));

        Assert.Equal(FleetExitCodes.Refused, rc);
        Assert.StartsWith("refused (unknown-key):", err);
    }

    [Fact]
    public void Pack_KeyFileIsPublicKey_ErrorNamesFile()
    {
        using var tmp = new TempDir();
        Run("keygen", "--out", tmp.Sub("k"));
        using var throwaway = PackageKeys.Create();
        var folder = TestPackages.Build(tmp.Sub("pkg"), throwaway, TestPackages.Manifest(1));
        var pubPath = Path.Combine(tmp.Path, "k", "fleet.pub");

        var (rc, _, err) = Run("pack", folder, "--key", pubPath, "--out", Path.Combine(tmp.Path, "x.tar"));

        Assert.Equal(FleetExitCodes.BadInput, rc);
        Assert.StartsWith($"error: {pubPath}: not a PEM private key", err);
    }

    [Fact]
    public void KeygenOperator_DefaultStem_OperatorKeyPairAndConfigHint()
    {
        using var tmp = new TempDir();

        var (rc, output, _) = Run("keygen", "--operator", "--out", tmp.Path);

        Assert.Equal(0, rc);
        using var pub = PackageKeys.ImportPublicPem(File.ReadAllText(Path.Combine(tmp.Path, "operator.pub")), "pub");
        using var priv = PackageKeys.ImportPrivatePem(File.ReadAllText(Path.Combine(tmp.Path, "operator.key")), "key");
        Assert.Equal(PackageKeys.KeyId(pub), PackageKeys.KeyId(priv));
        Assert.Contains($"key id {PackageKeys.KeyId(pub)}", output);
        Assert.Contains("Fleet:Operators:<n>:Key", output);
    }

    [Fact]
    public void Mode_NoKey_ParseErrorExitsTwo()
    {
        var (rc, _, err) = Run("mode", "human", "--device", "dev-01", "--reason", "x");

        Assert.Equal(FleetExitCodes.BadInput, rc);
        Assert.Contains("--key", err);
    }

    [Fact]
    public void Mode_ForceWithoutReason_RefusedBeforeConnecting()
    {
        using var tmp = new TempDir();
        Run("keygen", "--operator", "--out", tmp.Path);

        // Port 1 has no broker: the refusal must come before any connection attempt.
        var (rc, _, err) = Run("mode", "full", "--force", "--key", Path.Combine(tmp.Path, "operator.key"), "--device", "dev-01", "--broker", "127.0.0.1:1");

        Assert.Equal(FleetExitCodes.BadInput, rc);
        Assert.Equal("error: --force needs --reason (audited on the device)", err.Trim());
    }

    [Fact]
    public void Status_KeyIsPublicKey_ErrorNamesFile()
    {
        using var tmp = new TempDir();
        Run("keygen", "--operator", "--out", tmp.Path);
        var pubPath = Path.Combine(tmp.Path, "operator.pub");

        var (rc, _, err) = Run("status", "--key", pubPath, "--device", "dev-01", "--broker", "127.0.0.1:1");

        Assert.Equal(FleetExitCodes.BadInput, rc);
        Assert.StartsWith($"error: {pubPath}: not a PEM private key", err);
    }

    [Fact]
    public void Status_NoBrokerListening_OneErrorLineExitsThree()
    {
        using var tmp = new TempDir();
        Run("keygen", "--operator", "--out", tmp.Path);

        var (rc, _, err) = Run("status", "--key", Path.Combine(tmp.Path, "operator.key"), "--device", "dev-01", "--broker", "127.0.0.1:1");

        Assert.Equal(FleetExitCodes.Unreachable, rc);
        Assert.StartsWith("error: broker 127.0.0.1:1: ", Assert.Single(err.Trim().Split('\n')));
    }

    [Fact]
    public void Verify_MissingRequiredOptionAndMissingArchive_OneErrorLineExitsTwo()
    {
        var (rc, _, err) = Run("verify", "x.tar");
        Assert.Equal(FleetExitCodes.BadInput, rc);
        Assert.Contains("--trust", Assert.Single(err.Trim().Split('\n')));

        (rc, _, err) = Run("verify", "/nonexistent/x.tar", "--trust", "k.pub");
        Assert.Equal(FleetExitCodes.BadInput, rc);
        Assert.Equal("error: /nonexistent/x.tar: archive not found", err.Trim());
    }

    [MosquittoFact]
    public async Task ModeAndStatus_OperatorKeys_SignedCommandsAnsweredByRole()
    {
        await using var rig = await CommandRig.StartAsync();
        using var tmp = new TempDir();
        var observer = Path.Combine(tmp.Path, "observer.key");
        var op = Path.Combine(tmp.Path, "operator.key");
        File.WriteAllText(observer, PackageKeys.ExportPrivatePem(rig.Ops.Observer));
        File.WriteAllText(op, PackageKeys.ExportPrivatePem(rig.Ops.Operator));
        string[] common = ["--broker", $"{rig.Broker.Host}:{rig.Broker.Port}", "--prefix", CommandRig.Prefix, "--device", CommandRig.Device, "--timeout", "10"];

        var status = await Task.Run(() => Run(["status", "--key", observer, .. common]));
        var forbidden = await Task.Run(() => Run(["mode", "human", "--reason", "changeover", "--key", observer, .. common]));
        var mode = await Task.Run(() => Run(["mode", "human", "--reason", "changeover", "--key", op, .. common]));

        Assert.Equal(0, status.Rc);
        Assert.Contains("\"mode\":\"shadow\"", status.Out);
        Assert.Equal(FleetExitCodes.Refused, forbidden.Rc);
        Assert.Contains("forbidden", forbidden.Out);
        Assert.True(mode.Rc == 0, mode.Out + mode.Err);
        Assert.Equal(EdgeInspect.Core.Domain.AutomationMode.Human, rig.Modes.Current);
    }
}
