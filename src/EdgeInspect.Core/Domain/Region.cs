using EdgeInspect.Core.Geometry;

namespace EdgeInspect.Core.Domain;

/// <summary>A detected region with its detector score and, when a classifier ran, its class probabilities.</summary>
public sealed record Region(BoxF Box, float Score)
{
    /// <summary>Class probabilities in the order of the model package's class names; empty when no classifier ran.</summary>
    public float[] ClassProbabilities { get; init; } = [];
    public string? ClassName { get; init; }
    public float ClassConfidence { get; init; }
    /// <summary>Five landmarks as x1..x5, y1..y5 when the detector has them.</summary>
    public float[]? Landmarks { get; init; }
    /// <summary>The classifier's verdict on the whole frame (manifest classifier.wholeImage), not a detection: no box metric counts it.</summary>
    public bool WholeFrame { get; init; }
}
