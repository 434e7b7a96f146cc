using EdgeInspect.Core.Inference;
using EdgeInspect.Core.Storage;
using EdgeInspect.Imaging.OpenCv;
using EdgeInspect.Inference.Onnx;
using EdgeInspect.Station.Fleet;
using EdgeInspect.Sync.Mqtt;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Cli.Fleet;

/// <summary>
/// The composition root's part of fleet control: the agent (src/EdgeInspect.Station/Fleet) with ONNX Runtime and
/// OpenCV, which only the worker references.
/// </summary>
public static class FleetAgentServiceCollectionExtensions
{
    /// <summary>
    /// Registers the fleet agent from the "Fleet" section when present (see
    /// <see cref="FleetServiceCollectionExtensions.AddEdgeInspectFleet"/>). The ONNX validator and loader use the CPU
    /// provider unless <paramref name="inference"/> is given.
    /// </summary>
    public static IServiceCollection AddEdgeInspectFleetAgent(this IServiceCollection services, IConfiguration configuration,
        Func<IServiceProvider, IInspectionStore>? store = null, InferenceOptions? inference = null) =>
        services.AddEdgeInspectFleet(configuration,
            new FleetInference(sp => new OnnxNetworkFactory(sp.GetService<ILogger<OnnxNetworkFactory>>()), () => new OpenCvImageOps(),
                inference ?? new InferenceOptions()),
            store);

    /// <summary>The station's birth / status message (<see cref="FleetServiceCollectionExtensions.DeviceStatus"/>).</summary>
    public static DeviceStatusInfo DeviceStatus(IServiceProvider sp) => FleetServiceCollectionExtensions.DeviceStatus(sp);
}
