using System.Text.Json.Serialization;

namespace EdgeInspect.Core.Packages;

/// <summary>
/// manifest.json of a model package (ARCHITECTURE.md, "Model package"). JSON names are camelCase.
/// The signature (manifest.sig beside it) covers the exact manifest bytes, and so every file through its hash.
/// </summary>
public sealed class ModelManifest
{
    /// <summary>Manifest schema version; this code reads 1.</summary>
    public int Schema { get; set; } = 1;
    public string Name { get; set; } = "";
    /// <summary>Monotonic package version; a device refuses a lower one unless it is an explicit rollback.</summary>
    public long Version { get; set; }
    /// <summary>Free-form label shown to people ("2026.11.23-neu").</summary>
    public string? Label { get; set; }
    /// <summary>Fleet this package is for; null means any.</summary>
    public string? Fleet { get; set; }
    /// <summary>Device ids this package is for; null or empty means every device of the fleet.</summary>
    public List<string>? Devices { get; set; }
    public DetectorSpec? Detector { get; set; }
    public ClassifierSpec? Classifier { get; set; }
    public DecisionSpec Decision { get; set; } = new();
    public List<GoldenImage> Golden { get; set; } = [];
    public Dictionary<string, object?>? Provenance { get; set; }
    public Dictionary<string, object?>? Metrics { get; set; }
    /// <summary>Input statistics baseline for drift (mean brightness, contrast, sharpness of training frames).</summary>
    public InputBaseline? InputBaseline { get; set; }
}

/// <summary>The region detector: an MTCNN-style cascade of up to three networks.</summary>
public sealed class DetectorSpec
{
    /// <summary>"cascade" (P-Net over a pyramid, then R-Net, then O-Net).</summary>
    public string Kind { get; set; } = "cascade";
    public PyramidSpec Pyramid { get; set; } = new();
    /// <summary>In cascade order: the first is fully convolutional (P-Net), the rest refine crops (R-Net, O-Net).</summary>
    public List<StageSpec> Stages { get; set; } = [];
    /// <summary>NMS across pyramid scales after the first stage.</summary>
    public NmsSpec CrossScaleNms { get; set; } = new() { Iou = 0.7f, Mode = NmsMode.Union };
    /// <summary>
    /// Fixed windows, each (x1, y1, x2, y2) as fractions of the frame's width and height, that the last stage scores
    /// after the survivors of the stage before it. They propose defects over much of the frame (textures) that the
    /// pyramid's small windows never do; the last stage must have been trained on their crops. Absent: none.
    /// </summary>
    public float[][]? FrameWindows { get; set; }
}

public sealed class PyramidSpec
{
    /// <summary>Smallest object side in pixels; the first scale is CellSize / MinSize.</summary>
    public float MinSize { get; set; } = 20;
    public float ScaleFactor { get; set; } = 0.709f;
    /// <summary>The first stage's receptive field (12 for P-Net).</summary>
    public int CellSize { get; set; } = 12;
    /// <summary>The first stage's output stride in input pixels (2 for P-Net).</summary>
    public int Stride { get; set; } = 2;
    /// <summary>Cap on the number of scales (0 = no cap), to bound latency on large frames.</summary>
    public int MaxScales { get; set; }
    /// <summary>
    /// Window aspects (width / height) of the first stage's cells: every scale s runs once per aspect a, the level
    /// scaled s / sqrt(a) across and s * sqrt(a) down, so a cell covers a window a times wider than high (long,
    /// thin defects). Absent or [1]: MTCNN's square pyramid.
    /// </summary>
    public float[]? Aspects { get; set; }
}

public sealed class StageSpec
{
    /// <summary>"pnet", "rnet", "onet" or any name; used in timings.</summary>
    public string Name { get; set; } = "";
    public string File { get; set; } = "";
    public string Sha256 { get; set; } = "";
    public InputSpec Input { get; set; } = new();
    public StageOutputs Outputs { get; set; } = new();
    /// <summary>Score threshold; the first stage keeps score &gt;= threshold, later stages score &gt; threshold (reference behaviour).</summary>
    public float Threshold { get; set; }
    /// <summary>NMS after this stage (for the first stage: per scale).</summary>
    public NmsSpec Nms { get; set; } = new();
    /// <summary>Box width for regression: "exclusive" (x2-x1, as the reference P-Net) or "inclusive" (x2-x1+1).</summary>
    public string RegressionWidth { get; set; } = "inclusive";
    /// <summary>When true NMS runs after box regression (reference O-Net), otherwise before.</summary>
    public bool NmsAfterRegression { get; set; }
    /// <summary>
    /// Make boxes square (longer side, same centre) after this stage, as the reference's rerec does after P-Net and
    /// R-Net. Off for the reference O-Net, and for models whose objects are elongated (scratches, seams).
    /// </summary>
    public bool Square { get; set; } = true;
    /// <summary>
    /// First stage only: reproduce ipazc/mtcnn's generate_bounding_box quirk where, when exactly one cell of a scale
    /// passes the threshold, the regression is read from the width-flipped map (np.flipud). Only for faithfulness to
    /// the canonical MTCNN reference; leave off for new models.
    /// </summary>
    public bool ReferenceSingleCellFlip { get; set; }
}

public sealed class StageOutputs
{
    /// <summary>Box regression output [N, (W', H',) 4].</summary>
    public string Boxes { get; set; } = "";
    /// <summary>Two-class softmax output [N, (W', H',) 2]; channel 1 is "object".</summary>
    public string Scores { get; set; } = "";
    /// <summary>Optional landmark output [N, 10]: x1..x5 then y1..y5 relative to the box.</summary>
    public string? Landmarks { get; set; }
}

/// <summary>How pixels become a network's input tensor.</summary>
public sealed class InputSpec
{
    public string Name { get; set; } = "";
    /// <summary>Fixed input width and height; 0 for a fully convolutional input (P-Net).</summary>
    public int Width { get; set; }
    public int Height { get; set; }
    /// <summary>"NHWC", "NWHC" (channels last, width and height swapped as in the original Caffe MTCNN) or "NCHW".</summary>
    public string Layout { get; set; } = "NHWC";
    /// <summary>"RGB", "BGR" or "GRAY".</summary>
    public string Channels { get; set; } = "RGB";
    /// <summary>value = (pixel - mean) * scale.</summary>
    public float[] Mean { get; set; } = [127.5f, 127.5f, 127.5f];
    public float Scale { get; set; } = 0.0078125f;
    /// <summary>
    /// Context around a box before it is cropped for this network, as a fraction of the box's side on each side
    /// (0.25: a crop 1.5 times the box). For networks that judge a box by its surroundings (O-Net on a pretrained
    /// trunk, the region classifier); the first stage sees the pyramid, not crops, and must leave it 0. The trainer
    /// cuts its crops the same way (tools/train/eitrain/data.py).
    /// </summary>
    public float CropMargin { get; set; }
}

public enum NmsMode
{
    Union = 0,
    Min = 1,
}

public sealed class NmsSpec
{
    public float Iou { get; set; } = 0.5f;
    [JsonConverter(typeof(JsonStringEnumConverter<NmsMode>))]
    public NmsMode Mode { get; set; } = NmsMode.Union;
}

/// <summary>The region classifier run on each detected region's crop.</summary>
public sealed class ClassifierSpec
{
    public string File { get; set; } = "";
    public string Sha256 { get; set; } = "";
    public InputSpec Input { get; set; } = new();
    /// <summary>Output holding class probabilities (or logits, see <see cref="OutputIsLogits"/>) [N, classes].</summary>
    public string Output { get; set; } = "";
    public bool OutputIsLogits { get; set; }
    /// <summary>Class names in output order.</summary>
    public List<string> Classes { get; set; } = [];
    /// <summary>
    /// Extra context around each region before cropping, as a fraction of its side: the same as
    /// <see cref="InputSpec.CropMargin"/> of <see cref="Input"/>, kept for manifests written before it; a manifest
    /// sets one of them (<see cref="EffectiveCropMargin"/>).
    /// </summary>
    public float CropMargin { get; set; }

    /// <summary>The margin the region crops are cut with: input.cropMargin, else cropMargin.</summary>
    [JsonIgnore]
    public float EffectiveCropMargin => Input.CropMargin != 0 ? Input.CropMargin : CropMargin;
    /// <summary>
    /// Also classify the whole frame (resized to the input, like any crop): its class joins the decision as a
    /// whole-frame region, weighed by <see cref="WholeImageWeight"/>. For surfaces whose defects are textures over
    /// much of the frame (NEU-DET), where the frame's class is surer than any one box.
    /// </summary>
    public bool WholeImage { get; set; }
    /// <summary>Weight of the whole-frame class probabilities against the regions' (detector score x probability).</summary>
    public float WholeImageWeight { get; set; } = 1f;
}

/// <summary>How region results become a part verdict.</summary>
public sealed class DecisionSpec
{
    /// <summary>Classes that make a part NG; empty means "any detected region makes the part NG".</summary>
    public List<string> NgClasses { get; set; } = [];
    /// <summary>Minimum detector score for a region to count.</summary>
    public float MinRegionScore { get; set; }
    /// <summary>Per-class confidence the model needs to act alone in partial mode; below it the part waits for the human.</summary>
    public Dictionary<string, float> ActThresholds { get; set; } = [];
    /// <summary>Default for classes not listed in <see cref="ActThresholds"/>.</summary>
    public float DefaultActThreshold { get; set; } = 0.9f;
}

public sealed class GoldenImage
{
    public string File { get; set; } = "";
    public string Sha256 { get; set; } = "";
    /// <summary>"ok" or "ng".</summary>
    public string ExpectVerdict { get; set; } = "";
    /// <summary>Expected class of the part (a defect class or "ok"), optional.</summary>
    public string? ExpectClass { get; set; }
    /// <summary>Expected number of regions, optional.</summary>
    public int? ExpectRegions { get; set; }
}

public sealed class InputBaseline
{
    public double Brightness { get; set; }
    public double BrightnessStd { get; set; }
    public double Contrast { get; set; }
    public double ContrastStd { get; set; }
    public double Sharpness { get; set; }
    public double SharpnessStd { get; set; }
}
