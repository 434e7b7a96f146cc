using System.Diagnostics;
using EdgeInspect.Core.Detection;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Geometry;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Inference;
using EdgeInspect.Core.Packages;

namespace EdgeInspect.Core.Inspection;

/// <summary>
/// The model side of one part (ARCHITECTURE.md, "Data flow of one part"): the package's cascade finds
/// regions, its classifier labels each region's crop (all crops in one batched run), and the package's
/// decision policy turns them into a verdict. Generic over packages: the defect models and the
/// canonical MTCNN weights (no classifier: every region is a generic "defect") run the same code.
/// Not thread-safe; tensors and crop buffers are preallocated and reused, so a warm inspector only
/// allocates the result it returns.
/// </summary>
public sealed class PackageInspector : IInspector
{
    private readonly CascadeDetector _detector;
    private readonly INetworkRunner? _classifier;
    private readonly ClassifierSpec? _classifierSpec;
    private readonly TensorPacker? _packer;
    private readonly IImageOps _ops;
    private readonly DecisionPolicy _policy;
    private readonly TensorBuffer[] _classifierInputs = [new TensorBuffer()];
    private readonly TensorBuffer[] _classifierOutputs = [];
    private readonly int _outputIndex;
    private readonly long[] _shape = new long[4];
    private float[] _patch = [];

    public PackageInspector(ModelManifest manifest, CascadeDetector detector, INetworkRunner? classifier, IImageOps imageOps)
    {
        Manifest = manifest;
        ArgumentNullException.ThrowIfNull(manifest);
        _detector = detector ?? throw new ArgumentNullException(nameof(detector));
        _ops = imageOps ?? throw new ArgumentNullException(nameof(imageOps));
        ModelName = manifest.Name;
        ModelVersion = manifest.Version.ToString(System.Globalization.CultureInfo.InvariantCulture);
        _classifierSpec = classifier is null ? null : manifest.Classifier;
        if (classifier is not null)
        {
            var spec = manifest.Classifier ?? throw new ArgumentException("classifier network given but the manifest has no classifier");
            _classifier = classifier;
            _packer = new TensorPacker(spec.Input);
            _outputIndex = classifier.OutputIndex(spec.Output);
            if (_outputIndex < 0)
                throw new ArgumentException($"classifier.output: '{spec.Output}' is not an output of {classifier.ModelPath} (it has {string.Join(", ", classifier.Outputs.Select(o => o.Name))})");
            _classifierOutputs = new TensorBuffer[classifier.Outputs.Count];
            for (int i = 0; i < _classifierOutputs.Length; i++) _classifierOutputs[i] = new TensorBuffer();
        }
        _policy = new DecisionPolicy(manifest.Decision, _classifierSpec?.Classes ?? [], _classifierSpec?.WholeImageWeight ?? 1f);
    }

    /// <summary>Opens a package's networks (detector stages and classifier) through <paramref name="factory"/>.</summary>
    /// <param name="ownsImageOps">Dispose <paramref name="imageOps"/> with the inspector (one set of image operations per inspector).</param>
    public static PackageInspector Open(ModelPackage package, INetworkFactory factory, InferenceOptions options, IImageOps imageOps, bool ownsImageOps = false)
    {
        ArgumentNullException.ThrowIfNull(package);
        ArgumentNullException.ThrowIfNull(factory);
        var detector = CascadeDetector.Open(package, factory, options, imageOps);
        INetworkRunner? classifier = null;
        try
        {
            if (package.Manifest.Classifier is { } c) classifier = factory.Open(package.PathOf(c.File), options);
            VerifyNetworkInputs(package, detector, classifier);
            return new PackageInspector(package.Manifest, detector, classifier, imageOps) { _ownsOps = ownsImageOps };
        }
        catch
        {
            classifier?.Dispose();
            detector.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Refuses a package whose networks' declared inputs (read from the loaded graphs) disagree with the
    /// manifest's input specs: the wrong size or layout would otherwise only show as garbage verdicts.
    /// </summary>
    public static void VerifyNetworkInputs(ModelPackage package, CascadeDetector detector, INetworkRunner? classifier)
    {
        ArgumentNullException.ThrowIfNull(package);
        ArgumentNullException.ThrowIfNull(detector);
        var manifest = package.Manifest;
        var checks = new List<(InputSpec Spec, INetworkRunner Runner, string Field)>();
        int i = 0;
        foreach (var runner in detector.Runners)
        {
            checks.Add((manifest.Detector!.Stages[i].Input, runner, $"detector.stages[{i}].input"));
            i++;
        }
        if (classifier is not null && manifest.Classifier is { } c) checks.Add((c.Input, classifier, "classifier.input"));
        foreach (var (spec, runner, field) in checks)
        {
            var inputs = runner.Inputs.ToDictionary(t => t.Name, t => t.Shape.Select(d => (int)d).ToArray(), StringComparer.Ordinal);
            var file = Path.GetFileName(runner.ModelPath);
            if (InputShapeCheck.Check(spec, inputs, file, field) is { } problem)
            {
                // The check's text starts with the file name; the exception carries the full path instead.
                throw new ModelPackageException(PackageProblem.ShapeMismatch, runner.ModelPath, problem[(file.Length + 2)..]);
            }
        }
    }

    /// <summary>The manifest the inspector was opened from (thresholds, classes, input baseline).</summary>
    public ModelManifest Manifest { get; }

    public string ModelName { get; }

    public string ModelVersion { get; }

    public DecisionPolicy Policy => _policy;

    public InspectionResult Inspect(Frame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        return Inspect(frame.Image);
    }

    /// <summary>Inspects one BGR image (a frame's pixels, or a dataset image for evaluation).</summary>
    public InspectionResult Inspect(ImageBuffer image)
    {
        ArgumentNullException.ThrowIfNull(image);
        long start = Stopwatch.GetTimestamp();
        var result = _detector.Detect(image);
        var latency = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var stage in result.Stages) latency[stage.Name] = stage.TotalMs;

        var detections = result.Detections;
        bool whole = _classifier is not null && _classifierSpec!.WholeImage;
        var regions = new Region[detections.Length + (whole ? 1 : 0)];
        long c0 = Stopwatch.GetTimestamp();
        if (_classifier is not null && regions.Length > 0)
        {
            Classify(image, detections, regions);
        }
        else
        {
            for (int i = 0; i < detections.Length; i++)
            {
                var d = detections[i];
                regions[i] = new Region(d.Box, d.Score) { ClassName = DecisionPolicy.DefectClass, ClassConfidence = 1f };
            }
        }
        if (_classifier is not null) latency["classifier"] = Ms(Stopwatch.GetTimestamp() - c0);

        var decision = _policy.Decide(regions);
        latency["total"] = Ms(Stopwatch.GetTimestamp() - start);
        return new InspectionResult(regions, decision.Verdict, decision.Confidence, decision.PartClass, latency);
    }

    private void Classify(ImageBuffer image, ReadOnlySpan<Detection.Detection> detections, Region[] regions)
    {
        var spec = _classifierSpec!;
        var packer = _packer!;
        int n = regions.Length, iw = spec.Input.Width, ih = spec.Input.Height; // the last is the whole frame with wholeImage
        int patchLen = iw * ih * 3;
        if (_patch.Length < patchLen) _patch = new float[patchLen];
        var patch = _patch.AsSpan(0, patchLen);
        packer.ShapeFor(n, iw, ih, _shape);
        var input = _classifierInputs[0];
        input.SetShape(_shape);
        for (int i = 0; i < n; i++)
        {
            var (x, y, w, h) = i < detections.Length ? CropRect(detections[i].Box, spec.EffectiveCropMargin) : (0, 0, image.Width, image.Height);
            _ops.CropResizeArea(image, x, y, w, h, iw, ih, patch);
            packer.Pack(patch, iw, ih, input.Span, i);
        }
        _classifier!.Run(_classifierInputs, _classifierOutputs);
        var output = _classifierOutputs[_outputIndex];
        int classes = output.Length / n;
        if (classes != spec.Classes.Count)
            throw new InvalidOperationException($"classifier: output {output} has {classes} values per region but classifier.classes lists {spec.Classes.Count}");
        var values = output.Span;
        for (int i = 0; i < n; i++)
        {
            var probs = values.Slice(i * classes, classes).ToArray();
            if (spec.OutputIsLogits) Softmax(probs);
            int best = 0;
            for (int c = 1; c < classes; c++)
            {
                if (probs[c] > probs[best]) best = c;
            }
            bool frame = i >= detections.Length;
            regions[i] = new Region(frame ? new BoxF(0, 0, image.Width, image.Height) : detections[i].Box, frame ? 1f : detections[i].Score)
            {
                ClassProbabilities = probs,
                ClassName = spec.Classes[best],
                ClassConfidence = probs[best],
                WholeFrame = frame,
            };
        }
    }

    /// <summary>The pixel rectangle a region's crop covers: its box grown by the margin on every side (the
    /// training crops were taken the same way), rounded to whole pixels, at least one pixel.</summary>
    public static (int X, int Y, int Width, int Height) CropRect(BoxF box, float margin)
    {
        float mx = box.Width * margin, my = box.Height * margin;
        int x1 = (int)MathF.Round(box.X1 - mx), y1 = (int)MathF.Round(box.Y1 - my);
        int x2 = (int)MathF.Round(box.X2 + mx), y2 = (int)MathF.Round(box.Y2 + my);
        return (x1, y1, Math.Max(1, x2 - x1), Math.Max(1, y2 - y1));
    }

    private static void Softmax(Span<float> v)
    {
        float max = float.NegativeInfinity;
        foreach (float x in v) max = MathF.Max(max, x);
        float sum = 0;
        for (int i = 0; i < v.Length; i++) sum += v[i] = MathF.Exp(v[i] - max);
        for (int i = 0; i < v.Length; i++) v[i] /= sum;
    }

    private static double Ms(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;

    public void Dispose()
    {
        _detector.Dispose();
        _classifier?.Dispose();
        if (_ownsOps) (_ops as IDisposable)?.Dispose();
    }

    private bool _ownsOps;
}
