using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Inference;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Core.Packages;

namespace EdgeInspect.Station.Fleet.Slots;

/// <summary>
/// Opens an installed package with the device's inference runtime and image operations: each inspector gets image
/// operations of its own (it owns and disposes them), because the active model and a shadowed candidate inspect on
/// different threads (inspection and record stages) and image operations are single-caller.
/// </summary>
public sealed class PackageInspectorLoader(INetworkFactory factory, InferenceOptions options, Func<IImageOps> imageOps) : IInspectorLoader
{
    /// <inheritdoc />
    public IInspector Load(string packageFolder)
    {
        var ops = imageOps();
        try
        {
            return PackageInspector.Open(ModelPackage.Open(packageFolder), factory, options, ops, ownsImageOps: true);
        }
        catch
        {
            (ops as IDisposable)?.Dispose();
            throw;
        }
    }
}
