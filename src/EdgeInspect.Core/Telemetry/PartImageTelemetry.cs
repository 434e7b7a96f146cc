namespace EdgeInspect.Core.Telemetry;

/// <summary>The part-image path since the station started, and what waits on the device now.</summary>
/// <param name="Captured">Images written to the device's image folder.</param>
/// <param name="Dropped">Images selected but not kept: the encode queue was full, or the encode or write failed.</param>
/// <param name="Evicted">Kept images deleted for room (least valuable first) before they were uploaded.</param>
/// <param name="Uploaded">Images the ingest confirmed and the device then deleted.</param>
/// <param name="Pending">Images in the folder now, waiting for the upload.</param>
/// <param name="PendingBytes">Their bytes.</param>
public sealed record PartImageTelemetry(long Captured, long Dropped, long Evicted, long Uploaded, long Pending, long PendingBytes);
