using EdgeInspect.Core.Inspection;

namespace EdgeInspect.Station.Fleet.Slots;

/// <summary>Opens an installed package folder as an inspector (ONNX Runtime on a device; anything in tests).</summary>
public interface IInspectorLoader
{
    /// <summary>The inspector for the package in <paramref name="packageFolder"/>; throws when it does not open.</summary>
    IInspector Load(string packageFolder);
}
