namespace EdgeInspect.Station.Fleet.Transfer;

/// <summary>The answer to an offer: accepted with the chunks still missing, or refused with a wire code and a reason.</summary>
public readonly record struct OfferResult(bool Accepted, string? Reason, IReadOnlyList<int> MissingChunks, string? Code = null);
