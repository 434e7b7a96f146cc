namespace EdgeInspect.Station.Fleet.Transfer;

public enum ChunkStatus
{
    Stored,
    Duplicate,
    Rejected,
    /// <summary>The last missing chunk arrived and the archive's SHA-256 matched: <see cref="ChunkResult.ArchivePath"/> is ready.</summary>
    Complete,
    /// <summary>Every chunk arrived but the whole archive's SHA-256 differs; the partial package was discarded.</summary>
    Corrupt,
}
