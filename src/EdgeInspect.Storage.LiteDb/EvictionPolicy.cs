using EdgeInspect.Core.Domain;

namespace EdgeInspect.Storage.LiteDb;

/// <summary>
/// Which records the disk budget sacrifices first (ARCHITECTURE.md, "Local store"): agreed OK parts, then NG parts,
/// and disagreements, low-confidence and fail-safe parts last; within a class, oldest first. Those last ones are the
/// parts a model retraining needs most, so they survive longest.
/// </summary>
public static class EvictionPolicy
{
    /// <summary>Agreed OK parts: evicted first.</summary>
    public const int AgreedOk = 0;
    /// <summary>NG parts: evicted once no agreed OK part is left.</summary>
    public const int Ng = 1;
    /// <summary>Disagreements, low-confidence and fail-safe parts: evicted last.</summary>
    public const int KeepLongest = 2;

    /// <summary>Reason names as counted and reported in telemetry and <c>store stats</c>.</summary>
    public static readonly string[] ReasonNames = ["agreedOk", "ng", "disagreementOrLowConfidence"];

    /// <summary>
    /// The class of a record. An OK part with no human verdict (full mode) counts as "agreed": nobody disagreed.
    /// </summary>
    public static int Classify(InspectionRecord record, double lowConfidence)
    {
        if (record.Agreement == false) return KeepLongest;
        if (record.VerdictSource == VerdictSource.FailSafe) return KeepLongest;
        if (record.ModelConfidence is { } c && c < lowConfidence) return KeepLongest;
        if (record.CandidateVerdict is { } cand && record.ModelVerdict is { } m && cand != m) return KeepLongest;
        return record.Verdict == Verdict.Ok ? AgreedOk : Ng;
    }
}
