namespace EdgeInspect.Station.Pipeline;

public enum StatusLight { Off, Green, Amber, Red }

/// <summary>The line-side outputs the station drives (GPIO on a device, simulated in dev).</summary>
public interface IStationOutputs
{
    /// <summary>Pulse the reject actuator for one part.</summary>
    void Reject(string? partId);
    void SetStatus(StatusLight light);
}

/// <summary>Records what would be actuated; the dev profile and tests use it.</summary>
public sealed class SimulatedStationOutputs : IStationOutputs
{
    private long _rejects;
    public long Rejects => Interlocked.Read(ref _rejects);
    public StatusLight Status { get; private set; }
    public void Reject(string? partId) => Interlocked.Increment(ref _rejects);
    public void SetStatus(StatusLight light) => Status = light;
}
