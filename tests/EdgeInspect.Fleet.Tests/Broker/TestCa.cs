using System.Diagnostics;
using EdgeInspect.TestSupport;

namespace EdgeInspect.Fleet.Tests.Broker;

/// <summary>
/// A certificate authority made by device-config/broker/make-test-ca.sh (a real openssl run) in a folder of its own:
/// the CA, the broker's certificate, one per device (CN = device id), the fleet's (CN fleet) and the ingest's (CN ingest).
/// </summary>
internal sealed class TestCa
{
    public const string Fleet = "fleet";
    public const string Ingest = "ingest";
    public static readonly string Script = Path.Combine(RepoPaths.Root, "device-config", "broker", "make-test-ca.sh");

    private TestCa(string folder) => Folder = folder;

    public string Folder { get; }
    public string CaFile => Path.Combine(Folder, "ca.pem");
    public string BrokerCert => Path.Combine(Folder, "broker.pem");
    public string BrokerKey => Path.Combine(Folder, "broker.key");

    /// <summary>The certificate of a device id, or of <see cref="Fleet"/> / <see cref="Ingest"/>.</summary>
    public string CertOf(string identity) => IdentityPath(identity, ".pem");

    public string KeyOf(string identity) => IdentityPath(identity, ".key");

    /// <summary>Runs the script into <paramref name="folder"/> for <paramref name="deviceIds"/>; fails with its output when it fails.</summary>
    public static async Task<TestCa> MakeAsync(string folder, params string[] deviceIds)
    {
        var (rc, output) = await RunScriptAsync([folder, .. deviceIds]);
        if (rc != 0) throw new InvalidOperationException($"make-test-ca.sh exited {rc}: {output}");
        return new TestCa(folder);
    }

    /// <summary>Runs the script with <paramref name="args"/>; (exit code, stdout and stderr).</summary>
    public static async Task<(int Rc, string Output)> RunScriptAsync(params string[] args)
    {
        var psi = new ProcessStartInfo("/bin/sh", [Script, .. args]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        return (p.ExitCode, await stdout + await stderr);
    }

    private string IdentityPath(string identity, string extension) =>
        identity is Fleet or Ingest ? Path.Combine(Folder, identity + extension) : Path.Combine(Folder, "devices", identity + extension);
}
