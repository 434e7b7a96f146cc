using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Inference;

namespace EdgeInspect.Station.Fleet;

/// <summary>
/// The inference runtime the agent validates and loads packages with. The composition root supplies it (ONNX Runtime
/// and OpenCV on a device), so the station itself references no native package.
/// </summary>
/// <param name="Networks">Makes the network factory, once per agent.</param>
/// <param name="ImageOps">Makes image operations for one validation or one inspector (they are single-caller).</param>
/// <param name="Options">Providers, threads, lanes.</param>
public sealed record FleetInference(Func<IServiceProvider, INetworkFactory> Networks, Func<IImageOps> ImageOps, InferenceOptions Options);
