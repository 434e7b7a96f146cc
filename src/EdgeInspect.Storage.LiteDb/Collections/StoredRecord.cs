namespace EdgeInspect.Storage.LiteDb.Collections;

/// <summary>One record as stored: its sequence number, capture time and JSON.</summary>
/// <param name="Sequence">The record's sequence number (its id).</param>
/// <param name="CapturedAt">When the part was captured, UTC.</param>
/// <param name="Json">The record's JSON.</param>
internal readonly record struct StoredRecord(long Sequence, DateTimeOffset CapturedAt, byte[] Json);
