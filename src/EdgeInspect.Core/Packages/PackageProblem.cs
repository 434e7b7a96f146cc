namespace EdgeInspect.Core.Packages;

/// <summary>
/// Why a package cannot be used, the same for every entry that opens one (the CLI verbs, the station, the fleet
/// installer); the fleet maps each kind onto its wire refusal code.
/// </summary>
public enum PackageProblem
{
    /// <summary>The package folder does not exist.</summary>
    FolderNotFound,

    /// <summary>No manifest.json (and, for the CLI, no canonical pnet/rnet/onet set either).</summary>
    MissingManifest,

    /// <summary>manifest.json is not JSON (syntax).</summary>
    NotJson,

    /// <summary>A field is missing, of the wrong type or out of range; the message names it.</summary>
    Schema,

    /// <summary>A file name leaves the package folder.</summary>
    UnsafePath,

    /// <summary>A file the manifest names is not in the package.</summary>
    MissingFile,

    /// <summary>A file's SHA-256 differs from the manifest's.</summary>
    HashMismatch,

    /// <summary>A network's declared input differs from the manifest's input spec.</summary>
    ShapeMismatch,
}
