using EdgeInspect.Core.Packages;

namespace EdgeInspect.Fleet.Protocol.Packages;

/// <summary>A package folder that passed every check that needs no inference runtime.</summary>
public sealed record VerifiedPackage(string Folder, ModelManifest Manifest, string KeyId, string ManifestSha256);
