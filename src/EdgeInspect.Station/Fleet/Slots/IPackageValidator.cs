using EdgeInspect.Fleet.Protocol.Packages;

namespace EdgeInspect.Station.Fleet.Slots;

/// <summary>
/// The checks that need an inference runtime: the package loads, each network's input and output shapes match
/// the manifest, and its golden images give the expected results. <see cref="InferencePackageValidator"/> is the
/// device's; throws <see cref="PackageRefusedException"/> with LoadFailed, ShapeMismatch or GoldenFailed.
/// </summary>
public interface IPackageValidator
{
    /// <summary>Throws <see cref="PackageRefusedException"/> when the package must not be installed.</summary>
    void Validate(VerifiedPackage package, CancellationToken cancellationToken);
}
