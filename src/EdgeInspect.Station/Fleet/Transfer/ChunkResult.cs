namespace EdgeInspect.Station.Fleet.Transfer;

public readonly record struct ChunkResult(ChunkStatus Status, string? Reason = null, string? ArchivePath = null, int Missing = 0);
