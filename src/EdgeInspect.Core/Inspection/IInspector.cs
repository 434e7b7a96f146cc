using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;

namespace EdgeInspect.Core.Inspection;

/// <summary>
/// Frame in, model verdict out: cascade, classifier on each region, decision policy.
/// Not thread-safe: one inspector per stage loop (it owns preallocated tensors).
/// </summary>
public interface IInspector : IDisposable
{
    string ModelName { get; }
    string ModelVersion { get; }
    InspectionResult Inspect(Frame frame);
}

/// <summary>What the model concluded about one frame.</summary>
public sealed record InspectionResult(
    IReadOnlyList<Region> Regions,
    Verdict Verdict,
    float Confidence,
    string PartClass,
    IReadOnlyDictionary<string, double> LatencyMs);
