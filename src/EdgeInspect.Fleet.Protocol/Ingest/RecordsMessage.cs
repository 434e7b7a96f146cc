namespace EdgeInspect.Fleet.Protocol.Ingest;

/// <summary>
/// The payload forms of <c>&lt;prefix&gt;/&lt;device&gt;/records</c>: one record's JSON object (the only form before
/// batching, and still what a device sends for a lone record), or a JSON array of several records' objects, each
/// exactly the object a single-record message would carry. Each record carries its own key (deviceId, storeEpoch,
/// sequence), so the ingest stores and acknowledges the entries of an array one by one, as if each had come alone.
/// An array saves the per-message costs of MQTT (a publish, a broker route, a PUBACK each way, a receive) that
/// otherwise dominate a drain; only an ingest that reads both forms may be sent arrays.
/// </summary>
public static class RecordsMessage
{
    /// <summary>
    /// How many of <paramref name="payloads"/>, from <paramref name="start"/>, go in the next message: at most
    /// <paramref name="maxRecords"/>, and as an array no more than <paramref name="maxBytes"/> bytes
    /// (<see cref="Pack"/>'s size). Always at least one: a record over the limit goes alone, as a single-record message.
    /// </summary>
    public static int CountThatFit<T>(IReadOnlyList<T> items, Func<T, byte[]> payload, int start, int maxRecords, int maxBytes)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(payload);
        var count = 1;
        // '[' + first + ']', then ',' + entry for each further one
        var bytes = 2L + payload(items[start]).Length;
        while (count < maxRecords && start + count < items.Count)
        {
            var next = bytes + 1 + payload(items[start + count]).Length;
            if (next > maxBytes) break;
            bytes = next;
            count++;
        }
        return count;
    }

    /// <summary>
    /// The message for <paramref name="count"/> records from <paramref name="start"/>: the record itself when it is one,
    /// else <c>[r1,r2,...]</c> (the records' JSON copied as they are, nothing re-serialised).
    /// </summary>
    public static byte[] Pack<T>(IReadOnlyList<T> items, Func<T, byte[]> payload, int start, int count)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(payload);
        if (count == 1) return payload(items[start]);
        var length = 1 + count;
        for (var i = start; i < start + count; i++) length += payload(items[i]).Length;
        var message = new byte[length];
        message[0] = (byte)'[';
        var at = 1;
        for (var i = start; i < start + count; i++)
        {
            if (i > start) message[at++] = (byte)',';
            var p = payload(items[i]);
            p.CopyTo(message, at);
            at += p.Length;
        }
        message[at] = (byte)']';
        return message;
    }
}
