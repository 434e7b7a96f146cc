using EdgeInspect.Core.Evaluation;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Station.VirtualLine;

namespace EdgeInspect.Station.Replay;

/// <summary>
/// The inspector of a labelled replay (HumanInspector:Kind "labels"): for each recorded part it presses what the part's
/// label says, at once, so a station in shadow mode pairs every replayed part with its label's verdict and the shadow
/// report measures the model against the labels. A frame without a label gets no press (it fails safe where a human
/// decides, as a part nobody judged does at a real station).
/// </summary>
public sealed class LabelledHumanInspector : IHumanVerdictSource
{
    /// <summary>The label's verdict and class; null for a frame without a <see cref="PartLabel"/>.</summary>
    public HumanPress? Judge(Frame frame, TimeSpan maxWait)
    {
        ArgumentNullException.ThrowIfNull(frame);
        return frame.GroundTruth is PartLabel label ? new HumanPress(label.Verdict, label.PartClass, TimeSpan.Zero) : null;
    }
}
