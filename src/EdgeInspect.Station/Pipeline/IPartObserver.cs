using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;

namespace EdgeInspect.Station.Pipeline;

/// <summary>
/// Sees every part right after its record is stored, on the record stage's thread (<see cref="StationEngine.Commit"/>),
/// before the frame is released; the inspection stage may be deciding later frames meanwhile. The fleet agent runs its
/// candidate model here. It never decides the part; an exception it throws is swallowed so that it cannot cost a record.
/// </summary>
public interface IPartObserver
{
    void OnPart(Frame frame, InspectionRecord record);
}
