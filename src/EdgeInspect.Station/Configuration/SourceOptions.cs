namespace EdgeInspect.Station.Configuration;

/// <summary>The "Source" section: where frames come from.</summary>
public sealed class SourceOptions
{
    /// <summary>The section name in a profile.</summary>
    public const string SectionName = "Source";

    /// <summary>The source kinds a profile may name.</summary>
    public static readonly IReadOnlyList<string> Kinds = ["virtual-line", "folder", "v4l2", "gstreamer", "rtsp", "file"];

    /// <summary>virtual-line | folder | v4l2 | gstreamer | rtsp | file</summary>
    public string Kind { get; set; } = "virtual-line";

    /// <summary>Folder, device, pipeline, URL or file; required for every kind but the virtual line.</summary>
    public string? Uri { get; set; }

    /// <summary>
    /// Folder: the labels of its images, a CSV of file,label lines (label "ok" or a class name) or a folder of Pascal
    /// VOC annotations (stem.xml per image); read by the labelled inspector (HumanInspector:Kind "labels").
    /// </summary>
    public string? Labels { get; set; }

    /// <summary>Virtual line: the seed that decides every rendered part.</summary>
    public int Seed { get; set; } = 1;

    /// <summary>Time between frames of a free-running or replayed source.</summary>
    public int IntervalMs { get; set; } = 200;

    /// <summary>Virtual line: fraction of parts with a defect.</summary>
    public double DefectRate { get; set; } = 0.3;

    /// <summary>Virtual line frame width.</summary>
    public int Width { get; set; } = 320;

    /// <summary>Virtual line frame height.</summary>
    public int Height { get; set; } = 240;

    /// <summary>Camera sources: one frame per part on the Gpio:PartPresent sensor's edge instead of free-running.</summary>
    public bool Triggered { get; set; }

    /// <summary>
    /// Triggered sources: the longest time from a part-present edge to its frame. A trigger older than this is recorded
    /// fail-safe with no frame instead of taking a later part's frame.
    /// </summary>
    public int MaxTriggerAgeMs { get; set; } = 2000;

    /// <summary>Throws naming the first bad key.</summary>
    public void Validate()
    {
        ConfigCheck.Need(Kinds.Contains(Kind), "Source:Kind", $"must be one of {string.Join(", ", Kinds)}");
        ConfigCheck.Need(Kind == "virtual-line" || !string.IsNullOrWhiteSpace(Uri), "Source:Uri", $"required for source kind '{Kind}'");
        ConfigCheck.Need(!Triggered || Kind is "v4l2" or "gstreamer" or "rtsp" or "file", "Source:Triggered",
            "only camera sources (v4l2, gstreamer, rtsp, file) take a part-present trigger");
        ConfigCheck.Need(Labels is null || Kind == "folder", "Source:Labels", "only a replayed folder (Source:Kind \"folder\") has labels");
        ConfigCheck.Need(Labels is null || File.Exists(Labels) || Directory.Exists(Labels), "Source:Labels", $"{Labels}: no such CSV file or annotation folder");
        ConfigCheck.Need(IntervalMs is >= 0 and <= 60_000, "Source:IntervalMs", "must be 0..60000");
        ConfigCheck.Need(MaxTriggerAgeMs is >= 10 and <= 60_000, "Source:MaxTriggerAgeMs", "must be 10..60000");
        ConfigCheck.Need(DefectRate is >= 0 and <= 1, "Source:DefectRate", "must be 0..1");
        ConfigCheck.Need(Width is >= 160 and <= 4096, "Source:Width", "must be 160..4096");
        ConfigCheck.Need(Height is >= 120 and <= 4096, "Source:Height", "must be 120..4096");
    }
}
