using EdgeInspect.Fleet.Tests.Broker;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Cloud;

/// <summary>edgeinspect-fleet's --broker and --tls-* options: every file is checked before anything connects.</summary>
public sealed class BrokerConnectionOptionsTests
{
    private static async Task<(int Rc, string Out, string Err)> Run(params string[] args)
    {
        var o = new StringWriter();
        var e = new StringWriter();
        var rc = await FleetCli.RunAsync(args, o, e);
        return (rc, o.ToString(), e.ToString());
    }

    [Fact]
    public async Task Status_TlsFileMissingOrUnpaired_OneErrorLineNamingTheOptionExitsTwo()
    {
        using var tmp = new TempDir();
        var ca = await TestCa.MakeAsync(tmp.Sub("ca"), "dev-01");
        await Run("keygen", "--operator", "--out", tmp.Path);
        var missing = Path.Combine(tmp.Path, "nope.pem");
        // Port 1 has no broker: each refusal must come before any connection attempt.
        string[] common = ["status", "--key", Path.Combine(tmp.Path, "operator.key"), "--device", "dev-01", "--broker", "127.0.0.1:1"];

        var noCa = await Run([.. common, "--tls-ca", missing]);
        var noKey = await Run([.. common, "--tls-ca", ca.CaFile, "--tls-cert", ca.CertOf(TestCa.Fleet)]);
        var wrongKey = await Run([.. common, "--tls-ca", ca.CaFile, "--tls-cert", ca.CertOf(TestCa.Fleet), "--tls-key", ca.KeyOf("dev-01")]);
        var badBroker = await Run("status", "--key", Path.Combine(tmp.Path, "operator.key"), "--device", "dev-01", "--broker", "localhost");

        Assert.Equal((FleetExitCodes.BadInput, $"error: --tls-ca: file '{missing}' not found"), (noCa.Rc, noCa.Err.Trim()));
        Assert.Equal((FleetExitCodes.BadInput, "error: --tls-key: not set, but a client certificate is: a client certificate and its key go together"), (noKey.Rc, noKey.Err.Trim()));
        Assert.Equal(FleetExitCodes.BadInput, wrongKey.Rc);
        Assert.StartsWith($"error: --tls-key: file '{ca.KeyOf("dev-01")}' is not the PEM private key of '{ca.CertOf(TestCa.Fleet)}'", Assert.Single(wrongKey.Err.Trim().Split('\n')));
        Assert.Equal((FleetExitCodes.BadInput, "error: --broker 'localhost' is not host:port"), (badBroker.Rc, badBroker.Err.Trim()));
    }

    [EdgeInspect.TestSupport.MosquittoFact]
    public async Task Status_TlsBrokerWithoutTlsOptionsOrWithAnotherCasCertificate_UnreachableExitsThree()
    {
        await using var broker = await TlsBroker.StartAsync(["dev-01"]);
        using var tmp = new TempDir();
        var rogue = await TestCa.MakeAsync(tmp.Sub("rogue"), "dev-01");
        await Run("keygen", "--operator", "--out", tmp.Path);
        string[] common = ["status", "--key", Path.Combine(tmp.Path, "operator.key"), "--device", "dev-01", "--broker", broker.Endpoint, "--timeout", "5"];

        var plain = await Run(common);
        var rogueCert = await Run([.. common, "--tls-ca", broker.Ca.CaFile, "--tls-cert", rogue.CertOf(TestCa.Fleet), "--tls-key", rogue.KeyOf(TestCa.Fleet)]);
        var rogueBroker = await Run([.. common, "--tls-ca", rogue.CaFile, "--tls-cert", broker.Ca.CertOf(TestCa.Fleet), "--tls-key", broker.Ca.KeyOf(TestCa.Fleet)]);

        foreach (var (name, r) in new[] { ("plain", plain), ("rogue client certificate", rogueCert), ("broker from another CA", rogueBroker) })
        {
            Assert.True(r.Rc == FleetExitCodes.Unreachable, $"{name}: rc {r.Rc} {r.Out} {r.Err}");
            Assert.StartsWith($"error: broker {broker.Endpoint}: ", Assert.Single(r.Err.Trim().Split('\n')));
        }
    }
}
