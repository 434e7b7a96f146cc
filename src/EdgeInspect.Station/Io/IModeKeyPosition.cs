using EdgeInspect.Core.Domain;

namespace EdgeInspect.Station.Io;

/// <summary>
/// The settled position of a station's mode key switch, where one is fitted. Local authority: remote commands may not
/// set a mode above it (ARCHITECTURE.md "Degrees of automation").
/// </summary>
public interface IModeKeyPosition
{
    /// <summary>The mode the key is turned to; null when the key is out or between positions.</summary>
    AutomationMode? Position { get; }
}
