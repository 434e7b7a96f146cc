using EdgeInspect.Core.Telemetry;
using EdgeInspect.Sync.Mqtt.Images;

namespace EdgeInspect.Station.Capture;

/// <summary>
/// The part-image counters of one station: what the capture dropped, the writer kept or evicted, the upload delivered
/// (none without an uplink) and the folder still holds.
/// </summary>
public sealed class PartImageCounters(PartImageCapture capture, PartImageWriter writer, PartImageFolder folder, PartImageUplink? uplink) : IPartImageCounters
{
    /// <inheritdoc />
    public PartImageTelemetry Read()
    {
        var pending = folder.All();
        return new PartImageTelemetry(writer.Written, capture.DroppedQueueFull + writer.Failed, writer.Evicted, uplink?.Uploaded ?? 0,
            pending.Count, pending.Sum(p => p.Bytes));
    }
}
