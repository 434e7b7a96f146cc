using EdgeInspect.Core.Domain;

namespace EdgeInspect.Web.Live;

/// <summary>One part as the live page shows it: the JPEG with its boxes drawn and the record it was drawn from.</summary>
/// <param name="Jpeg">The encoded frame.</param>
/// <param name="Record">The stored record of the part.</param>
public sealed record LiveFrame(byte[] Jpeg, InspectionRecord Record);
