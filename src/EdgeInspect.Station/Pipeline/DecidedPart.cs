using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;

namespace EdgeInspect.Station.Pipeline;

/// <summary>A part whose verdict is decided (and acted on) but whose record is not stored yet; it owns nothing (the frame stays the caller's).</summary>
public readonly record struct DecidedPart(Frame Frame, InspectionRecord Record, Core.Inspection.InspectionResult? Result);
