using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeInspect.Core.Storage;

/// <summary>
/// The store-and-forward queue between the local store and the uplink (after Azure/iotedge's edgeHub message store):
/// offsets are the records' sequence numbers. The uplink reads a batch, publishes, and removes each item only after the
/// broker acknowledged it. Removal need not be durable: a removal lost in a crash only causes a resend, which the cloud
/// drops by (deviceId, sequence).
/// </summary>
public interface IOutboxQueue
{
    /// <summary>Items not yet delivered, parked ones included.</summary>
    long PendingCount { get; }

    /// <summary>Items parked (<see cref="Park"/>): pending, and not handed out by the reads.</summary>
    long ParkedCount { get; }

    /// <summary>Up to <paramref name="max"/> pending, unparked items with offset &gt; <paramref name="afterOffset"/>, oldest first.</summary>
    IReadOnlyList<OutboxItem> ReadBatch(long afterOffset, int max);

    /// <summary>Up to <paramref name="max"/> of the newest pending, unparked items, oldest of them first (the "live" share).</summary>
    IReadOnlyList<OutboxItem> ReadNewest(int max);

    /// <summary>
    /// Parks a pending item the broker keeps refusing, durably and with the reason: it stays pending (kept, counted,
    /// shown) but the reads no longer hand it out, across restarts too, so it cannot hold up the rest or be retried
    /// forever. False when the item is no longer pending.
    /// </summary>
    bool Park(long offset, string reason);

    /// <summary>
    /// Un-parks every parked item, durably: the reads hand them out again (the uplink does this now and then, since
    /// the broker's cause, such as an ACL or a size limit, is usually mended on the broker). Returns how many.
    /// </summary>
    int UnparkAll();

    /// <summary>Removes one item (after its PUBACK).</summary>
    void Remove(long offset);

    /// <summary>Removes several items in one transaction (each after its own PUBACK).</summary>
    void RemoveMany(IReadOnlyCollection<long> offsets);

    /// <summary>Removes every pending item with offset &lt;= <paramref name="offset"/>.</summary>
    void RemoveUpTo(long offset);

    /// <summary>Signalled (set) on every append, so a drainer can wait instead of polling.</summary>
    event Action? Appended;
}

/// <summary>One queued record: its sequence number and its wire form (camelCase JSON, <see cref="RecordJson"/>).</summary>
public sealed record OutboxItem(long Offset, byte[] Payload);

/// <summary>The one JSON shape of records, events and telemetry, on disk and on the wire: System.Text.Json, camelCase, enums as camelCase strings.</summary>
public static class RecordJson
{
    public static readonly JsonSerializerOptions Options = Create();

    private static JsonSerializerOptions Create()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        };
        o.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        o.MakeReadOnly(populateMissingResolver: true);
        return o;
    }
}
