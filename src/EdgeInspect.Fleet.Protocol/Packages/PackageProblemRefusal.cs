using EdgeInspect.Core.Packages;

namespace EdgeInspect.Fleet.Protocol.Packages;

/// <summary>
/// Maps the package loader's problems onto the fleet's wire refusal codes, so a package refused by
/// `model check` is refused by a fleet install with the same reason (paths shown relative to the package).
/// </summary>
public static class PackageProblemRefusal
{
    /// <summary>The refusal code for a loader problem.</summary>
    public static RefusalCode Code(PackageProblem problem) => problem switch
    {
        PackageProblem.FolderNotFound or PackageProblem.MissingManifest => RefusalCode.MissingManifest,
        PackageProblem.NotJson => RefusalCode.ManifestNotJson,
        PackageProblem.UnsafePath => RefusalCode.UnsafePath,
        PackageProblem.MissingFile => RefusalCode.MissingFile,
        PackageProblem.HashMismatch => RefusalCode.HashMismatch,
        PackageProblem.ShapeMismatch => RefusalCode.ShapeMismatch,
        _ => RefusalCode.ManifestSchema,
    };

    /// <summary>The refusal for <paramref name="error"/>, its message naming files relative to <paramref name="folder"/>.</summary>
    public static PackageRefusedException From(ModelPackageException error, string folder)
    {
        ArgumentNullException.ThrowIfNull(error);
        return new PackageRefusedException(Code(error.Kind), error.MessageRelativeTo(folder));
    }
}
