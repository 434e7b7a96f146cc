namespace EdgeInspect.Station.Fleet.Transfer;

public readonly record struct OfferResult(bool Accepted, string? Reason, IReadOnlyList<int> MissingChunks);
