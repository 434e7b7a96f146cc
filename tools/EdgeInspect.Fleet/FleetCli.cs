using System.CommandLine;
using EdgeInspect.Fleet.Packages;
using EdgeInspect.Fleet.Protocol.Packages;
using EdgeInspect.Fleet.Protocol.Signing;

namespace EdgeInspect.Fleet;

/// <summary>
/// edgeinspect-fleet verbs. Offline verbs (keygen, pack, verify) are here; the MQTT verbs (push, mode, status,
/// promote, rollback, report) are in <see cref="RemoteCommands"/>.
/// Bad input prints one line naming the file or field and exits 2; a refusal exits 1 (<see cref="FleetExitCodes"/>);
/// no stack traces.
/// </summary>
public static class FleetCli
{
    /// <summary>Parses and runs <paramref name="args"/>; a parse error is one "error:" line per problem and exit 2.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter? stdout = null, TextWriter? stderr = null)
    {
        var error = stderr ?? Console.Error;
        var parse = Build(stdout, stderr).Parse(args);
        if (parse.Errors.Count > 0 && parse.Action is System.CommandLine.Invocation.ParseErrorAction)
        {
            foreach (var e in parse.Errors) error.WriteLine("error: " + e.Message);
            return FleetExitCodes.BadInput;
        }
        return await parse.InvokeAsync(new InvocationConfiguration { Output = stdout ?? Console.Out, Error = error });
    }

    /// <summary>The root command with every verb; output and errors go to the given writers.</summary>
    public static RootCommand Build(TextWriter? stdout = null, TextWriter? stderr = null)
    {
        var output = stdout ?? Console.Out;
        var error = stderr ?? Console.Error;
        var root = new RootCommand("EdgeInspect fleet tool: keys, packages, pushes and remote commands");

        var keyOut = new Option<string>("--out") { Description = "Folder for <name>.key (PKCS#8 PEM) and <name>.pub (SubjectPublicKeyInfo PEM)", Required = true };
        var keyName = new Option<string?>("--name") { Description = "File name stem (default fleet, or operator with --operator)" };
        var keyOperator = new Option<bool>("--operator") { Description = "An operator key that signs commands (listed on devices in Fleet:Operators with a role)" };
        var keygen = new Command("keygen", "Create an ECDSA P-256 signing key pair; prints the key id (SHA-256 of the public key)") { keyOut, keyName, keyOperator };
        keygen.SetAction(r => Guard(error, FleetExitCodes.BadInput, () =>
        {
            var dir = r.GetValue(keyOut)!;
            var isOperator = r.GetValue(keyOperator);
            var name = r.GetValue(keyName) ?? (isOperator ? "operator" : "fleet");
            if (!Protocol.Transfer.TransferIds.IsValid(name)) throw new UsageException($"--name '{name}': use letters, digits, '.', '_' or '-'");
            Directory.CreateDirectory(dir);
            var priv = Path.Combine(dir, name + ".key");
            if (File.Exists(priv)) throw new UsageException($"{priv}: already exists; refusing to overwrite a signing key");
            using var key = PackageKeys.Create();
            File.WriteAllText(priv, PackageKeys.ExportPrivatePem(key));
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(priv, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            File.WriteAllText(Path.Combine(dir, name + ".pub"), PackageKeys.ExportPublicPem(key));
            output.WriteLine($"key id {PackageKeys.KeyId(key)}");
            output.WriteLine($"private {priv}");
            output.WriteLine(isOperator
                ? $"public  {Path.Combine(dir, name + ".pub")} (add to the device config as Fleet:Operators:<n>:Key with Role observe, operate or override)"
                : $"public  {Path.Combine(dir, name + ".pub")} (add to the device config's Fleet:TrustedKeys)");
        }));
        root.Subcommands.Add(keygen);

        var packFolder = new Argument<string>("folder") { Description = "Package folder holding manifest.json and the files it names" };
        var packKey = new Option<string>("--key") { Description = "Private key PEM (from keygen)", Required = true };
        var packOut = new Option<string>("--out") { Description = "Archive to write (.tar)", Required = true };
        var packVersion = new Option<long?>("--version") { Description = "Set the manifest version before signing" };
        var pack = new Command("pack", "Fill in file hashes, sign manifest.json and write the package archive") { packFolder, packKey, packOut, packVersion };
        pack.SetAction(r => Guard(error, FleetExitCodes.BadInput, () =>
        {
            var folder = r.GetValue(packFolder)!;
            var keyPath = r.GetValue(packKey)!;
            if (!Directory.Exists(folder)) throw new UsageException($"{folder}: package folder not found");
            if (!File.Exists(keyPath)) throw new UsageException($"{keyPath}: key file not found");
            using var key = PackageKeys.ImportPrivatePem(File.ReadAllText(keyPath), keyPath);
            var manifest = PackageBuilder.SignFolder(folder, key, r.GetValue(packVersion));
            var archive = r.GetValue(packOut)!;
            PackageArchive.Create(folder, archive);
            output.WriteLine($"packed {manifest.Name} v{manifest.Version} signed by {PackageKeys.KeyId(key)[..16]} -> {archive} ({new FileInfo(archive).Length} bytes)");
        }));
        root.Subcommands.Add(pack);

        var verifyArchive = new Argument<string>("archive") { Description = "Package archive (.tar)" };
        var verifyKeys = new Option<string[]>("--trust") { Description = "Trusted public key PEM file(s)", Required = true, AllowMultipleArgumentsPerToken = true };
        var verifyDevice = new Option<string>("--device") { Description = "Device id to check the package against", DefaultValueFactory = _ => "any" };
        var verifyFleet = new Option<string?>("--fleet") { Description = "Fleet to check the package against" };
        var verify = new Command("verify", "Run the device's signature and hash checks on an archive") { verifyArchive, verifyKeys, verifyDevice, verifyFleet };
        verify.SetAction(r => Guard(error, FleetExitCodes.Refused, () =>
        {
            var archive = r.GetValue(verifyArchive)!;
            if (!File.Exists(archive)) throw new UsageException($"{archive}: archive not found");
            using var keys = TrustedKeys.FromFiles(r.GetValue(verifyKeys)!);
            var dir = Directory.CreateTempSubdirectory("edgeinspect-verify-").FullName;
            try
            {
                PackageArchive.Extract(archive, dir, long.MaxValue);
                var v = PackageVerifier.Verify(dir, keys, new DeviceIdentity(r.GetValue(verifyDevice)!, r.GetValue(verifyFleet)), null, false);
                output.WriteLine($"ok {v.Manifest.Name} v{v.Manifest.Version} key {v.KeyId[..16]}");
            }
            finally
            {
                Directory.Delete(dir, recursive: true);
            }
        }));
        root.Subcommands.Add(verify);
        foreach (var c in RemoteCommands.Create(output, error)) root.Subcommands.Add(c);
        return root;
    }

    /// <summary>
    /// Runs an offline verb: bad input is one "error:" line and exit 2; a package refusal is one "refused (code):"
    /// line and <paramref name="refusedCode"/> (verify's answer is a finding, exit 1; pack refusing its input is bad
    /// input, exit 2).
    /// </summary>
    private static int Guard(TextWriter error, int refusedCode, Action action)
    {
        try
        {
            action();
            return FleetExitCodes.Ok;
        }
        catch (Exception ex) when (ex is UsageException or KeyFormatException or IOException or UnauthorizedAccessException)
        {
            error.WriteLine($"error: {ex.Message}");
            return FleetExitCodes.BadInput;
        }
        catch (PackageRefusedException ex)
        {
            error.WriteLine($"refused ({ex.WireCode}): {ex.Message}");
            return refusedCode;
        }
    }
}
