using EdgeInspect.Core.Detection;
using EdgeInspect.Core.Inference;
using EdgeInspect.Core.Packages;
using EdgeInspect.Imaging.OpenCv;
using EdgeInspect.Inference.Onnx;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Cli.Commands;

/// <summary>A package (opened by <see cref="ModelPackage.Open(string)"/>), its detector and the image ops, opened together and disposed together.</summary>
internal sealed class DetectorSession : IDisposable
{
    private DetectorSession(CascadeDetector detector, OpenCvImageOps ops, string provider)
    {
        Detector = detector;
        Ops = ops;
        Provider = provider;
    }

    /// <summary>The package's cascade.</summary>
    public CascadeDetector Detector { get; }

    /// <summary>Image operations (decode, pyramid, crops).</summary>
    public OpenCvImageOps Ops { get; }

    /// <summary>The execution provider that took the first network.</summary>
    public string Provider { get; }

    /// <summary>Opens <paramref name="modelDir"/>'s cascade with <paramref name="options"/> (validated here).</summary>
    public static DetectorSession Open(string modelDir, InferenceOptions options, int imageWorkers, ILoggerFactory loggers)
    {
        var package = ModelPackage.Open(modelDir);
        options.Validate();
        var ops = new OpenCvImageOps(imageWorkers);
        try
        {
            var detector = CascadeDetector.Open(package, new OnnxNetworkFactory(loggers.CreateLogger<OnnxNetworkFactory>()), options, ops);
            return new DetectorSession(detector, ops, detector.Runners.First().ExecutionProvider);
        }
        catch
        {
            ops.Dispose();
            throw;
        }
    }

    /// <summary>Disposes the detector and the image ops.</summary>
    public void Dispose()
    {
        Detector.Dispose();
        Ops.Dispose();
    }
}
