namespace EdgeInspect.Core.Domain;

/// <summary>
/// One inspected (or failed-safe) part, as stored locally and synced (ARCHITECTURE.md, "Inspection record").
/// (DeviceId, StoreEpoch, Sequence) is the dedupe key in the cloud.
/// </summary>
public sealed class InspectionRecord
{
    public required string DeviceId { get; init; }
    public required string Station { get; init; }
    /// <summary>
    /// The id of the store file the record went into (given to each file at creation). Set by the store when the record
    /// is stored: a file recovered from corruption starts a new epoch, so (device, epoch, sequence) stays unique even
    /// when the old file's high-water mark could not be read. Null on records stored before epochs existed.
    /// </summary>
    public string? StoreEpoch { get; set; }
    /// <summary>Monotonic per device and store file, never reused, survives restarts.</summary>
    public required long Sequence { get; init; }
    public string? PartId { get; init; }
    public required DateTimeOffset CapturedAt { get; init; }
    public required DateTimeOffset DecidedAt { get; init; }
    public required AutomationMode Mode { get; init; }
    public string? ModelName { get; init; }
    public string? ModelVersion { get; init; }
    public IReadOnlyList<Region> Regions { get; init; } = [];
    /// <summary>The verdict that was acted on (or, in shadow and assist, the one the human gave).</summary>
    public required Verdict Verdict { get; init; }
    public required VerdictSource VerdictSource { get; init; }
    /// <summary>What the model said, when it ran (null in human mode).</summary>
    public Verdict? ModelVerdict { get; init; }
    /// <summary>Model confidence in its verdict, 0..1.</summary>
    public float? ModelConfidence { get; init; }
    /// <summary>The model's predicted class for the part ("ok" or a defect class), for per-class shadow statistics.</summary>
    public string? ModelClass { get; init; }
    /// <summary>The human's verdict, when a button was pressed inside the part's window.</summary>
    public Verdict? HumanVerdict { get; init; }
    public string? HumanClass { get; init; }
    /// <summary>Candidate model's verdict during a three-way shadow trial.</summary>
    public Verdict? CandidateVerdict { get; init; }
    public string? CandidateModelVersion { get; init; }
    /// <summary>Milliseconds per stage ("pnet", "rnet", "onet", "classifier", "total", ...).</summary>
    public IReadOnlyDictionary<string, double> LatencyMs { get; init; } = new Dictionary<string, double>();
    /// <summary>Why a part was failed safe, when <see cref="VerdictSource"/> is FailSafe.</summary>
    public string? FailReason { get; init; }
    /// <summary>
    /// Optional reference to a stored image of the part (its file name in the device's part-image folder). Set by the
    /// station just before the record is stored, once the image's place in the capture queue is reserved.
    /// </summary>
    public string? ImageRef { get; set; }

    /// <summary>True when both a human and the model gave a verdict and they agree.</summary>
    public bool? Agreement => HumanVerdict is { } h && ModelVerdict is { } m ? h == m : null;
}
