namespace EdgeInspect.Core.Storage;

/// <summary>
/// The part images a device keeps until the cloud has them (the uplink's view of the capture folder): the uplink
/// reads the oldest, and deletes one only after the ingest acknowledged it.
/// </summary>
public interface IPartImageQueue
{
    /// <summary>Up to <paramref name="max"/> complete images, most valuable first (disagreements before samples), oldest first within a kind.</summary>
    IReadOnlyList<PartImageFile> Pending(int max);

    /// <summary>Removes an image the cloud acknowledged; false when it was already gone (evicted meanwhile).</summary>
    bool Delete(PartImageFile image);
}
