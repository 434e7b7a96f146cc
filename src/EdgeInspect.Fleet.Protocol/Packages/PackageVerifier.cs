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
    /// <summary>The manifest file's name inside a package folder.</summary>
    public const string ManifestFileName = ManifestReader.FileName;

    /// <summary>The manifest serializer options, shared with every reader of packages (<see cref="ManifestReader.JsonOptions"/>).</summary>
    public static JsonSerializerOptions ManifestJson => ManifestReader.JsonOptions;

    /// <summary>
    /// Checks <paramref name="folder"/> for this device; throws <see cref="PackageRefusedException"/>. The manifest
    /// is read and its fields, files and hashes checked by the same loader as every other entry
    /// (<see cref="ModelPackage.Open(string, ReadOnlyMemory{byte})"/>), on the exact bytes the signature covers.
    /// </summary>
    public static VerifiedPackage Verify(string folder, TrustedKeys keys, DeviceIdentity device, long? installedVersion, bool rollback,
        KeyRevocations? revoked = null)
    {
        var manifestPath = Path.Combine(folder, ManifestFileName);
        if (!File.Exists(manifestPath))
            throw new PackageRefusedException(RefusalCode.MissingManifest, $"{ManifestFileName}: manifest not found");
        var sigPath = Path.Combine(folder, PackageSignature.FileName);
        if (!File.Exists(sigPath))
            throw new PackageRefusedException(RefusalCode.MalformedSignature, $"{PackageSignature.FileName}: missing, the package is unsigned");

        var manifestBytes = File.ReadAllBytes(manifestPath);
        var sig = keys.Verify(manifestBytes, File.ReadAllBytes(sigPath), revoked);
        if (!sig.IsValid) throw new PackageRefusedException(CodeOf(sig.Failure), sig.Reason);

        var manifest = ParseManifest(manifestBytes);
        CheckTarget(manifest, device);
        if (installedVersion is { } installed && manifest.Version < installed && !rollback)
            throw new PackageRefusedException(RefusalCode.LowerVersion,
                $"{ManifestFileName}: version {manifest.Version} is lower than the installed {installed} (only an explicit rollback may go back)");

        ModelPackage package;
        try
        {
            package = ModelPackage.Open(folder, manifestBytes);
        }
        catch (ModelPackageException ex)
        {
            throw PackageProblemRefusal.From(ex, folder);
        }

        return new VerifiedPackage(folder, package.Manifest, sig.KeyId!, Convert.ToHexStringLower(SHA256.HashData(manifestBytes)));
    }

    /// <summary>The refusal code for a failed signature check.</summary>
    public static RefusalCode CodeOf(SignatureFailure failure) => failure switch
    {
        SignatureFailure.UnknownKey => RefusalCode.UnknownKey,
        SignatureFailure.BadSignature => RefusalCode.BadSignature,
        SignatureFailure.Revoked => RefusalCode.RevokedKey,
        _ => RefusalCode.MalformedSignature,
    };

    /// <summary>
    /// Parses manifest bytes with the shared <see cref="ManifestReader"/>; syntax errors are ManifestNotJson, a
    /// field of the wrong type or a bad header ManifestSchema, naming the field.
    /// </summary>
    public static ModelManifest ParseManifest(byte[] manifestBytes)
    {
        try
        {
            return ManifestReader.Parse(manifestBytes, ManifestFileName);
        }
        catch (ModelPackageException ex)
        {
            throw new PackageRefusedException(PackageProblemRefusal.Code(ex.Kind), ex.Message);
        }
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

    internal static void CheckTarget(ModelManifest manifest, DeviceIdentity device)
    {
        if (manifest.Fleet is { Length: > 0 } fleet && !string.Equals(fleet, device.Fleet, StringComparison.Ordinal))
            throw new PackageRefusedException(RefusalCode.WrongFleet, $"{ManifestFileName}: package is for fleet '{fleet}', this device is in '{device.Fleet ?? "(none)"}'");
        if (manifest.Devices is { Count: > 0 } devices && !devices.Contains(device.DeviceId, StringComparer.Ordinal))
            throw new PackageRefusedException(RefusalCode.WrongDevice, $"{ManifestFileName}: package is for device(s) {string.Join(", ", devices)}, not '{device.DeviceId}'");
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
}
