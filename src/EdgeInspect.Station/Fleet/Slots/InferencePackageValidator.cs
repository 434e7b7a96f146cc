using EdgeInspect.Core.Detection;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Inference;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Core.Packages;
using EdgeInspect.Fleet.Protocol.Packages;

namespace EdgeInspect.Station.Fleet.Slots;

/// <summary>
/// The device's <see cref="IPackageValidator"/>: loads the verified package through the inference runtime (ONNX
/// Runtime on a device, through <see cref="INetworkFactory"/>), checks every network's input shape
/// (<see cref="InputShapeCheck"/>) and output shape against the manifest, then runs the golden images
/// (<see cref="GoldenCheck"/>). Each failure is a <see cref="PackageRefusedException"/> whose message names the file
/// and the manifest field: LoadFailed (the runtime refused the graph), ShapeMismatch, GoldenFailed.
/// The inspector it built is disposed; the station opens its own from the installed slot.
/// </summary>
/// <param name="imageOps">Makes the image operations for one validation (they are not shared with the station's inspectors, which run on other threads).</param>
public sealed class InferencePackageValidator(INetworkFactory factory, InferenceOptions options, Func<IImageOps> imageOps) : IPackageValidator
{
    public void Validate(VerifiedPackage package, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(package);
        ModelPackage model;
        try
        {
            model = ModelPackage.Open(package.Folder);
        }
        catch (ModelPackageException ex)
        {
            throw PackageProblemRefusal.From(ex, package.Folder);
        }
        cancellationToken.ThrowIfCancellationRequested();
        var ops = imageOps();
        using var disposeOps = ops as IDisposable;
        using var inspector = Open(model, ops);
        cancellationToken.ThrowIfCancellationRequested();
        IReadOnlyList<string> failures;
        try
        {
            failures = GoldenCheck.Run(model, inspector, ops);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
        {
            // A golden image that cannot be decoded, or a network that fails at run time on it.
            throw new PackageRefusedException(RefusalCode.GoldenFailed, $"golden: {ex.GetType().Name}: {ex.Message}");
        }
        if (failures.Count > 0)
            throw new PackageRefusedException(RefusalCode.GoldenFailed, $"{failures.Count} golden image(s) failed: {string.Join("; ", failures.Take(3))}");
    }

    private PackageInspector Open(ModelPackage model, IImageOps imageOps)
    {
        var manifest = model.Manifest;
        CascadeDetector? detector = null;
        INetworkRunner? classifier = null;
        try
        {
            var runners = new List<(INetworkRunner Runner, string Field, InputSpec Input, IEnumerable<(string Output, string Field, int Channels)> Outputs)>();
            if (manifest.Detector is { } det)
            {
                var opened = new List<INetworkRunner>();
                try
                {
                    for (int i = 0; i < det.Stages.Count; i++)
                    {
                        var stage = det.Stages[i];
                        var runner = OpenNetwork(model, stage.File, $"detector.stages[{i}]");
                        opened.Add(runner);
                        var outputs = new List<(string, string, int)>
                        {
                            (stage.Outputs.Boxes, $"detector.stages[{i}].outputs.boxes", 4),
                            (stage.Outputs.Scores, $"detector.stages[{i}].outputs.scores", 2),
                        };
                        if (!string.IsNullOrEmpty(stage.Outputs.Landmarks)) outputs.Add((stage.Outputs.Landmarks, $"detector.stages[{i}].outputs.landmarks", 10));
                        runners.Add((runner, $"detector.stages[{i}].input", stage.Input, outputs));
                    }
                    CheckShapes(runners);
                    detector = new CascadeDetector(det, opened, imageOps, ownsRunners: true);
                }
                catch
                {
                    if (detector is null) foreach (var r in opened) r.Dispose();
                    throw;
                }
            }
            if (manifest.Classifier is { } cls)
            {
                classifier = OpenNetwork(model, cls.File, "classifier");
                CheckShapes([(classifier, "classifier.input", cls.Input, [(cls.Output, "classifier.output", cls.Classes.Count)])]);
            }
            if (detector is null)
                throw new PackageRefusedException(RefusalCode.ManifestSchema, $"{ModelPackage.ManifestFileName}: detector is required on this device");
            return new PackageInspector(manifest, detector, classifier, imageOps);
        }
        catch (ArgumentException ex)
        {
            classifier?.Dispose();
            detector?.Dispose();
            // The cascade and the inspector name the manifest key they could not bind ("detector.stages[1].outputs.boxes: ...").
            throw new PackageRefusedException(RefusalCode.ShapeMismatch, ex.Message);
        }
        catch
        {
            classifier?.Dispose();
            detector?.Dispose();
            throw;
        }
    }

    private INetworkRunner OpenNetwork(ModelPackage model, string file, string field)
    {
        try
        {
            return factory.Open(model.PathOf(file), options);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException and not OperationCanceledException)
        {
            throw new PackageRefusedException(RefusalCode.LoadFailed, $"{file}: {field} does not load in the inference runtime ({FirstLine(ex.Message)})");
        }
    }

    private static void CheckShapes(IEnumerable<(INetworkRunner Runner, string Field, InputSpec Input, IEnumerable<(string Output, string Field, int Channels)> Outputs)> networks)
    {
        foreach (var (runner, field, input, outputs) in networks)
        {
            var file = Path.GetFileName(runner.ModelPath);
            var inputs = runner.Inputs.ToDictionary(t => t.Name, t => t.Shape.Select(d => (int)d).ToArray(), StringComparer.Ordinal);
            if (InputShapeCheck.Check(input, inputs, file, field) is { } problem)
                throw new PackageRefusedException(RefusalCode.ShapeMismatch, problem);
            foreach (var (name, outField, channels) in outputs)
            {
                var output = runner.Outputs.FirstOrDefault(o => o.Name == name)
                    ?? throw new PackageRefusedException(RefusalCode.ShapeMismatch,
                        $"{file}: {outField}: the network has no output '{name}' (it has {string.Join(", ", runner.Outputs.Select(o => o.Name))})");
                if (OutputShapeProblem(output.Shape, channels) is { } why)
                    throw new PackageRefusedException(RefusalCode.ShapeMismatch, $"{file}: output '{name}' {why}, but {outField} needs {channels} channels");
            }
        }
    }

    /// <summary>
    /// Outputs are [N, C] or [N, C, H', W'] / [N, H', W', C] (ARCHITECTURE.md, model package: stage outputs); the
    /// channel axis (1 or last) must hold <paramref name="channels"/> values or be symbolic.
    /// </summary>
    private static string? OutputShapeProblem(IReadOnlyList<long> shape, int channels)
    {
        static string Show(IReadOnlyList<long> d) => "[" + string.Join(", ", d.Select(v => v > 0 ? v.ToString(System.Globalization.CultureInfo.InvariantCulture) : "?")) + "]";
        if (shape.Count is not (2 or 4)) return $"has rank {shape.Count} {Show(shape)}";
        if (channels <= 0) return null;
        bool Fits(long d) => d <= 0 || d == channels;
        return Fits(shape[1]) || Fits(shape[^1]) ? null : $"has shape {Show(shape)}";
    }

    private static string FirstLine(string s)
    {
        var i = s.IndexOf('\n');
        return i < 0 ? s : s[..i].TrimEnd();
    }
}
