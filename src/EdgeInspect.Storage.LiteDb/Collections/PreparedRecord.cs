using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace EdgeInspect.Storage.LiteDb.Collections;

/// <summary>A record serialized and classified outside the store's lock, ready for <see cref="RecordCollection.Insert"/>.</summary>
/// <param name="Record">The record.</param>
/// <param name="Json">Its stored and wire form (<see cref="RecordJson"/>).</param>
/// <param name="EvictionClass">Its <see cref="EvictionPolicy"/> class.</param>
internal readonly record struct PreparedRecord(InspectionRecord Record, byte[] Json, int EvictionClass)
{
    /// <summary>Serializes and classifies <paramref name="record"/>.</summary>
    public static PreparedRecord Create(InspectionRecord record, double lowConfidence) =>
        new(record, JsonSerializer.SerializeToUtf8Bytes(record, RecordJson.Options), EvictionPolicy.Classify(record, lowConfidence));
}
