using EdgeInspect.Station.Configuration;

namespace EdgeInspect.Station.Capture;

/// <summary>
/// The "Capture" section: which parts' images the station keeps for training, and how. Off unless enabled: a
/// station with no uplink would only fill its disk budget with images nobody collects.
/// </summary>
public sealed class CaptureOptions
{
    /// <summary>The section name in a profile.</summary>
    public const string SectionName = "Capture";

    /// <summary>Keep images at all.</summary>
    public bool Enabled { get; set; }

    /// <summary>Where the JPEGs go (one sub-folder per store epoch); null: "&lt;store file&gt;-images" beside the store.</summary>
    public string? Folder { get; set; }

    /// <summary>Keep every part where the human and the model disagree.</summary>
    public bool Disagreements { get; set; } = true;

    /// <summary>Keep every fail-safe part that has an image.</summary>
    public bool FailSafe { get; set; } = true;

    /// <summary>Keep parts whose model confidence is below this (0: none).</summary>
    public double LowConfidenceBelow { get; set; } = 0.7;

    /// <summary>Fraction of the remaining parts (agreed, confident) kept as a random sample, 0..1.</summary>
    public double AgreedSampleRate { get; set; } = 0.01;

    /// <summary>Seed of the sample's draws (repeatable runs); null: from the OS.</summary>
    public ulong? Seed { get; set; }

    /// <summary>JPEG quality, 1..100.</summary>
    public int JpegQuality { get; set; } = 90;

    /// <summary>
    /// Images copied and waiting to be encoded, at most; a part selected while it is full is not kept, and counted
    /// (the line never waits for an encoder). Each waiting image holds a copy of its frame's pixels.
    /// </summary>
    public int QueueCapacity { get; set; } = 8;

    /// <summary>
    /// Bytes the image folder may hold; past it the least valuable images go first (<see cref="CaptureReason"/>).
    /// The folder also counts against Store:BudgetBytes, so the records get what the images leave.
    /// </summary>
    public long MaxBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Throws naming the first bad key.</summary>
    public void Validate()
    {
        ConfigCheck.Need(LowConfidenceBelow is >= 0 and <= 1, "Capture:LowConfidenceBelow", "must be 0..1");
        ConfigCheck.Need(AgreedSampleRate is >= 0 and <= 1, "Capture:AgreedSampleRate", "must be 0..1");
        ConfigCheck.Need(JpegQuality is >= 1 and <= 100, "Capture:JpegQuality", "must be 1..100");
        ConfigCheck.Need(QueueCapacity is >= 1 and <= 256, "Capture:QueueCapacity", "must be 1..256");
        ConfigCheck.Need(MaxBytes >= 1024 * 1024, "Capture:MaxBytes", "must be at least 1 MiB (a few images)");
        ConfigCheck.Need(Folder is null || !string.IsNullOrWhiteSpace(Folder), "Capture:Folder", "must name a folder (or be left out)");
    }

    /// <summary>The check that needs the store's budget: the images may take at most half of it, so records keep room.</summary>
    public void Validate(long storeBudgetBytes)
    {
        Validate();
        ConfigCheck.Need(!Enabled || storeBudgetBytes <= 0 || MaxBytes <= storeBudgetBytes / 2, "Capture:MaxBytes",
            $"{MaxBytes} is more than half of Store:BudgetBytes ({storeBudgetBytes}): the records would have no room");
    }

    /// <summary>The folder the images go to, for a store at <paramref name="storePath"/>.</summary>
    public string EffectiveFolder(string storePath) =>
        Folder ?? Path.Combine(Path.GetDirectoryName(Path.GetFullPath(storePath)) ?? ".", Path.GetFileNameWithoutExtension(storePath) + "-images");
}
