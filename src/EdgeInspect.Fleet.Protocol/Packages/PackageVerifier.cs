using System.Security.Cryptography;
using System.Text.Json;
using EdgeInspect.Core.Packages;
using EdgeInspect.Fleet.Protocol.Signing;

namespace EdgeInspect.Fleet.Protocol.Packages;

/// <summary>
/// The device-side checks of a package folder before anything loads it (ARCHITECTURE.md "Model package"):
/// signature by a trusted key over the exact manifest bytes, a parseable manifest, every named file present and
/// matching its SHA-256, the package meant for this fleet and device, and a version not lower than the installed
/// one unless it is an explicit rollback. Order matters: nothing inside the manifest is believed before the
/// signature holds, and no file is hashed before its path is known to stay inside the folder.
/// </summary>
public static class PackageVerifier
{
    public const string ManifestFileName = "manifest.json";

    public static readonly JsonSerializerOptions ManifestJson = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
    };

    public static VerifiedPackage Verify(string folder, TrustedKeys keys, DeviceIdentity device, long? installedVersion, bool rollback)
    {
        var manifestPath = Path.Combine(folder, ManifestFileName);
        if (!File.Exists(manifestPath))
            throw new PackageRefusedException(RefusalCode.MissingManifest, $"{ManifestFileName}: missing from the package");
        var sigPath = Path.Combine(folder, PackageSignature.FileName);
        if (!File.Exists(sigPath))
            throw new PackageRefusedException(RefusalCode.MalformedSignature, $"{PackageSignature.FileName}: missing, the package is unsigned");

        var manifestBytes = File.ReadAllBytes(manifestPath);
        var sig = keys.Verify(manifestBytes, File.ReadAllBytes(sigPath));
        if (!sig.IsValid)
        {
            var code = sig.Failure switch
            {
                SignatureFailure.UnknownKey => RefusalCode.UnknownKey,
                SignatureFailure.BadSignature => RefusalCode.BadSignature,
                _ => RefusalCode.MalformedSignature,
            };
            throw new PackageRefusedException(code, sig.Reason);
        }

        var manifest = ParseManifest(manifestBytes);
        CheckTarget(manifest, device);
        if (installedVersion is { } installed && manifest.Version < installed && !rollback)
            throw new PackageRefusedException(RefusalCode.LowerVersion,
                $"{ManifestFileName}: version {manifest.Version} is lower than the installed {installed} (only an explicit rollback may go back)");

        foreach (var (field, file, sha) in NamedFiles(manifest))
            CheckFile(folder, field, file, sha);

        return new VerifiedPackage(folder, manifest, sig.KeyId!, Convert.ToHexStringLower(SHA256.HashData(manifestBytes)));
    }

    /// <summary>Parses manifest bytes; syntax errors and type errors get different codes so the sender knows which.</summary>
    public static ModelManifest ParseManifest(byte[] manifestBytes)
    {
        try
        {
            using var _ = JsonDocument.Parse(manifestBytes);
        }
        catch (JsonException ex)
        {
            throw new PackageRefusedException(RefusalCode.ManifestNotJson, $"{ManifestFileName}: not JSON ({ex.Message})");
        }
        ModelManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<ModelManifest>(manifestBytes, ManifestJson);
        }
        catch (JsonException ex)
        {
            throw new PackageRefusedException(RefusalCode.ManifestSchema, $"{ManifestFileName}: field {ex.Path ?? "?"} has the wrong type ({FirstLine(ex.Message)})");
        }
        if (manifest is null)
            throw new PackageRefusedException(RefusalCode.ManifestSchema, $"{ManifestFileName}: is null");
        if (manifest.Schema != 1)
            throw new PackageRefusedException(RefusalCode.ManifestSchema, $"{ManifestFileName}: schema {manifest.Schema} is not supported (this device reads 1)");
        if (string.IsNullOrWhiteSpace(manifest.Name))
            throw new PackageRefusedException(RefusalCode.ManifestSchema, $"{ManifestFileName}: name is required");
        if (manifest.Version <= 0)
            throw new PackageRefusedException(RefusalCode.ManifestSchema, $"{ManifestFileName}: version must be a positive integer");
        if (manifest.Detector is null && manifest.Classifier is null)
            throw new PackageRefusedException(RefusalCode.ManifestSchema, $"{ManifestFileName}: needs a detector or a classifier");
        return manifest;
    }

    /// <summary>Every file the manifest names, with the field that names it (for the refusal message).</summary>
    public static IEnumerable<(string Field, string File, string Sha256)> NamedFiles(ModelManifest manifest)
    {
        if (manifest.Detector is { } det)
        {
            for (var i = 0; i < det.Stages.Count; i++)
                yield return ($"detector.stages[{i}]", det.Stages[i].File, det.Stages[i].Sha256);
        }
        if (manifest.Classifier is { } cls)
            yield return ("classifier", cls.File, cls.Sha256);
        for (var i = 0; i < manifest.Golden.Count; i++)
            yield return ($"golden[{i}]", manifest.Golden[i].File, manifest.Golden[i].Sha256);
    }

    private static void CheckTarget(ModelManifest manifest, DeviceIdentity device)
    {
        if (manifest.Fleet is { Length: > 0 } fleet && !string.Equals(fleet, device.Fleet, StringComparison.Ordinal))
            throw new PackageRefusedException(RefusalCode.WrongFleet, $"{ManifestFileName}: package is for fleet '{fleet}', this device is in '{device.Fleet ?? "(none)"}'");
        if (manifest.Devices is { Count: > 0 } devices && !devices.Contains(device.DeviceId, StringComparer.Ordinal))
            throw new PackageRefusedException(RefusalCode.WrongDevice, $"{ManifestFileName}: package is for device(s) {string.Join(", ", devices)}, not '{device.DeviceId}'");
    }

    private static void CheckFile(string folder, string field, string file, string expectedSha)
    {
        if (string.IsNullOrWhiteSpace(file))
            throw new PackageRefusedException(RefusalCode.ManifestSchema, $"{ManifestFileName}: {field}.file is empty");
        if (expectedSha.Length != 64 || !expectedSha.All(Uri.IsHexDigit))
            throw new PackageRefusedException(RefusalCode.ManifestSchema, $"{ManifestFileName}: {field}.sha256 is not 64 hex digits");
        var path = ResolveInside(folder, file)
            ?? throw new PackageRefusedException(RefusalCode.UnsafePath, $"{ManifestFileName}: {field}.file '{file}' leaves the package folder");
        if (!File.Exists(path))
            throw new PackageRefusedException(RefusalCode.MissingFile, $"{file}: named by {field} but missing from the package");
        using var stream = File.OpenRead(path);
        var actual = Convert.ToHexStringLower(SHA256.HashData(stream));
        if (!string.Equals(actual, expectedSha, StringComparison.OrdinalIgnoreCase))
            throw new PackageRefusedException(RefusalCode.HashMismatch, $"{file}: SHA-256 {actual[..12]}... differs from the manifest's {expectedSha[..Math.Min(12, expectedSha.Length)]}...");
    }

    /// <summary>The full path of a relative file name when it stays inside <paramref name="folder"/>, else null.</summary>
    public static string? ResolveInside(string folder, string relative)
    {
        if (Path.IsPathRooted(relative)) return null;
        var root = Path.GetFullPath(folder);
        var full = Path.GetFullPath(Path.Combine(root, relative));
        var prefix = root.EndsWith(Path.DirectorySeparatorChar) ? root : root + Path.DirectorySeparatorChar;
        return full.StartsWith(prefix, StringComparison.Ordinal) ? full : null;
    }

    private static string FirstLine(string s)
    {
        var i = s.IndexOf('\n');
        return i < 0 ? s : s[..i].TrimEnd();
    }
}
