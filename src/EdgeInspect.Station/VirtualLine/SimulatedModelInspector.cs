using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Inspection;

namespace EdgeInspect.Station.VirtualLine;

/// <summary>
/// A stand-in model for the virtual line when no model package is installed: it reads the frame's ground truth
/// and is right with probability <paramref name="accuracy"/>. It exists so the station runs with no model (and
/// so tests can set a known model accuracy); the real run uses the `virtual-line` model package through
/// PackageInspector, which never sees the ground truth.
/// </summary>
public sealed class SimulatedModelInspector(double accuracy = 0.95, int seed = 23) : IInspector
{
    private static readonly IReadOnlyDictionary<string, double> NoLatency = new Dictionary<string, double>();

    public string ModelName => "simulated";
    public string ModelVersion => "0";

    public InspectionResult Inspect(Frame frame)
    {
        if (frame.GroundTruth is not PartTruth truth)
            throw new InvalidOperationException("the simulated model needs virtual-line frames (ground truth)");
        var rng = SplitMix64.ForPart(seed, truth.Index);
        bool right = rng.NextDouble() < accuracy;
        float confidence = right ? rng.NextFloat(0.8f, 1f) : rng.NextFloat(0.5f, 0.8f);
        if (right)
        {
            var regions = truth.Defects.Select(d => new Region(d.Box, confidence) { ClassName = d.ClassName, ClassConfidence = confidence }).ToList();
            return new InspectionResult(regions, truth.Verdict, confidence, truth.PartClass, NoLatency);
        }
        return truth.Verdict == Verdict.Ng
            ? new InspectionResult([], Verdict.Ok, confidence, DefectClasses.Ok, NoLatency)
            : new InspectionResult([], Verdict.Ng, confidence, DefectClasses.All[rng.NextInt(0, 4)], NoLatency);
    }

    public void Dispose() { }
}
