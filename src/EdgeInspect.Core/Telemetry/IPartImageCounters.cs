namespace EdgeInspect.Core.Telemetry;

/// <summary>Reads the part-image counters for a telemetry snapshot (the station's capture, writer, folder and upload).</summary>
public interface IPartImageCounters
{
    /// <summary>The counters now; counts the pending images on disk, so once per snapshot, not per part.</summary>
    PartImageTelemetry Read();
}
