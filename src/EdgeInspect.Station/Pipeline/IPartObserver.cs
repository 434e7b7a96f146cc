using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;

namespace EdgeInspect.Station.Pipeline;

/// <summary>
/// Sees every part right after its record is stored, on the record stage's thread, before the frame is released
/// (the fleet agent runs its candidate model here, and promotes or rolls back between two frames). It never decides
/// the part, and it adds nothing to the actuation path; an exception it throws is swallowed so that it cannot cost a
/// record.
/// </summary>
public interface IPartObserver
{
    /// <summary>Called once per stored part, in sequence order.</summary>
    void OnPart(Frame frame, InspectionRecord record);
}
