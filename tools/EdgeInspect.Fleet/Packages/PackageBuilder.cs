using System.Security.Cryptography;
using System.Text.Json;
using EdgeInspect.Core.Packages;
using EdgeInspect.Fleet.Protocol.Packages;
using EdgeInspect.Fleet.Protocol.Signing;

namespace EdgeInspect.Fleet.Packages;

/// <summary>
/// Builds a signed package from a folder (the fleet tool's "pack"): fills in the SHA-256 of every file the
/// manifest names, writes manifest.json, signs those exact bytes into manifest.sig.
/// </summary>
public static class PackageBuilder
{
    /// <summary>Signs <paramref name="folder"/> in place (optionally setting the version first); the manifest written.</summary>
    public static ModelManifest SignFolder(string folder, ECDsa key, long? version = null)
    {
        var manifestPath = Path.Combine(folder, PackageVerifier.ManifestFileName);
        if (!File.Exists(manifestPath))
            throw new PackageRefusedException(RefusalCode.MissingManifest, $"{manifestPath}: not found");
        var manifest = PackageVerifier.ParseManifest(File.ReadAllBytes(manifestPath));
        if (version is { } v) manifest.Version = v;
        void Fill(string field, string file, Action<string> set)
        {
            var path = PackageVerifier.ResolveInside(folder, file)
                ?? throw new PackageRefusedException(RefusalCode.UnsafePath, $"{manifestPath}: {field}.file '{file}' leaves the folder");
            if (!File.Exists(path)) throw new PackageRefusedException(RefusalCode.MissingFile, $"{path}: named by {field} but missing");
            using var s = File.OpenRead(path);
            set(Convert.ToHexStringLower(SHA256.HashData(s)));
        }
        if (manifest.Detector is { } det)
        {
            for (var i = 0; i < det.Stages.Count; i++)
            {
                var st = det.Stages[i];
                Fill($"detector.stages[{i}]", st.File, h => st.Sha256 = h);
            }
        }
        if (manifest.Classifier is { } cls) Fill("classifier", cls.File, h => cls.Sha256 = h);
        foreach (var (g, i) in manifest.Golden.Select((g, i) => (g, i))) Fill($"golden[{i}]", g.File, h => g.Sha256 = h);

        var bytes = JsonSerializer.SerializeToUtf8Bytes(manifest, PackageVerifier.ManifestJson);
        File.WriteAllBytes(manifestPath, bytes);
        File.WriteAllBytes(Path.Combine(folder, PackageSignature.FileName), PackageSignature.Sign(bytes, key).ToBytes());
        return manifest;
    }
}
