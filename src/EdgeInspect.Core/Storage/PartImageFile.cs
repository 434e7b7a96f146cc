namespace EdgeInspect.Core.Storage;

/// <summary>
/// One part image kept on the device, waiting to be uploaded: the record it belongs to (store epoch and sequence),
/// why it was kept, and the file.
/// </summary>
/// <param name="Path">The JPEG file.</param>
/// <param name="Epoch">The store epoch of the part's record.</param>
/// <param name="Sequence">The part's record sequence number.</param>
/// <param name="Reason">Why it was kept ("disagreement", "failsafe", "lowconfidence", "sample").</param>
/// <param name="CapturedAt">When the part's frame was captured.</param>
/// <param name="Bytes">The file's size.</param>
public sealed record PartImageFile(string Path, string Epoch, long Sequence, string Reason, DateTimeOffset CapturedAt, long Bytes)
{
    /// <summary>The image's id on the wire and in the cloud: "&lt;epoch&gt;-&lt;sequence&gt;", unique per device.</summary>
    public string Id => $"{Epoch}-{Sequence}";
}
