using EdgeInspect.Core.Inference;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Core.Packages;
using EdgeInspect.Imaging.OpenCv;
using EdgeInspect.Inference.Onnx;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Cli.Commands;

/// <summary>A validated package, its inspector and the image ops, opened and disposed together.</summary>
internal sealed class InspectorSession : IDisposable
{
    private InspectorSession(ModelPackage package, PackageInspector inspector, OpenCvImageOps ops, float? operatingThreshold)
    {
        Package = package;
        Inspector = inspector;
        Ops = ops;
        OperatingThreshold = operatingThreshold;
    }

    /// <summary>The package, opened by <see cref="ModelPackage.Open(string)"/>.</summary>
    public ModelPackage Package { get; }

    /// <summary>The package's inspector (cascade, classifier, decision).</summary>
    public PackageInspector Inspector { get; }

    /// <summary>Image operations (decode, pyramid, crops).</summary>
    public OpenCvImageOps Ops { get; }

    /// <summary>The package's own last-stage threshold when a score floor lowered it for this session; else null.</summary>
    public float? OperatingThreshold { get; }
    /// <summary>The floor the last stage runs with when one lowered its threshold (then the AP curve's floor); else null.</summary>
    public float? ScoreFloor => OperatingThreshold is null ? null : Package.Manifest.Detector!.Stages[^1].Threshold;

    /// <param name="scoreFloor">
    /// For evaluation only: run the last stage with its threshold lowered to this floor, so its boxes below the
    /// package's threshold can be scored too. Exact for what the package itself gives: the last stage keeps
    /// scores above its threshold before a greedy NMS, and a greedy NMS never lets a lower-scored box remove a
    /// higher one, so the package's boxes are the floor run's boxes that score above the package's threshold.
    /// (A refinement stage only: a one-stage detector keeps its boxes otherwise.) The decision's MinRegionScore is
    /// raised just past that threshold, so the verdict and the part class count
    /// the same regions as the package does.
    /// </param>
    public static InspectorSession Open(string modelDir, IReadOnlyList<string> providers, ILoggerFactory loggers, float? scoreFloor = null)
    {
        var package = ModelPackage.Open(modelDir);
        float? operating = null;
        if (scoreFloor is { } floor && package.Manifest.Detector is { Stages.Count: > 1 } detector && floor < detector.Stages[^1].Threshold)
        {
            var last = detector.Stages[^1];
            operating = last.Threshold;
            last.Threshold = floor;
            package.Manifest.Decision.MinRegionScore = MathF.Max(package.Manifest.Decision.MinRegionScore, MathF.BitIncrement(operating.Value));
        }
        var options = new InferenceOptions { Providers = providers };
        options.Validate();
        var ops = new OpenCvImageOps();
        try
        {
            var inspector = PackageInspector.Open(package, new OnnxNetworkFactory(loggers.CreateLogger<OnnxNetworkFactory>()), options, ops);
            return new InspectorSession(package, inspector, ops, operating);
        }
        catch
        {
            ops.Dispose();
            throw;
        }
    }

    /// <summary>Disposes the inspector and the image ops.</summary>
    public void Dispose()
    {
        Inspector.Dispose();
        Ops.Dispose();
    }
}
