using EdgeInspect.Core.Imaging;
using EdgeInspect.Station.VirtualLine;

namespace EdgeInspect.Station.Pipeline;

/// <summary>
/// Where the human inspector's verdict for a part comes from: the OK / defect buttons on GPIO at a real station,
/// the simulated inspector on the virtual line. The engine asks once per part.
/// </summary>
public interface IHumanVerdictSource
{
    /// <summary>
    /// The inspector's verdict for <paramref name="frame"/>, waiting up to <paramref name="maxWait"/> for it
    /// (zero when the model decides and a press is only recorded for comparison); null when none came.
    /// </summary>
    HumanPress? Judge(Frame frame, TimeSpan maxWait);
}
