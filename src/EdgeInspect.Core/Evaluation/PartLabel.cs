using EdgeInspect.Core.Domain;

namespace EdgeInspect.Core.Evaluation;

/// <summary>
/// The recorded truth of one replayed part: <see cref="LabelledImage.OkClass"/> or a defect class. Rides on
/// <see cref="Imaging.Frame.GroundTruth"/> so a labelled inspector can answer for the part; decisions never read it.
/// </summary>
public sealed record PartLabel(string PartClass)
{
    /// <summary>OK for the ok class, NG for any defect class.</summary>
    public Verdict Verdict => LabelledImage.IsOkClass(PartClass) ? Verdict.Ok : Verdict.Ng;
}
