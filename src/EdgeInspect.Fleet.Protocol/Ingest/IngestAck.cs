using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeInspect.Fleet.Protocol.Ingest;

/// <summary>
/// The cloud ingest's acknowledgement on <c>&lt;prefix&gt;/&lt;device&gt;/ack</c>: the records of one store epoch whose
/// sequence numbers lie in <see cref="Ranges"/> are committed in the cloud's database (duplicates included: a record
/// the database already had is acknowledged again, so a device that re-sent it can let it go).
/// JSON: <c>{"epoch":"...","ranges":[[1,40],[42,42]]}</c>, ranges inclusive, ascending, not overlapping.
/// </summary>
/// <param name="Epoch">The records' store epoch; "" for records stored before epochs existed.</param>
/// <param name="Ranges">Inclusive [first, last] sequence ranges.</param>
public sealed record IngestAck(
    [property: JsonPropertyName("epoch")] string Epoch,
    [property: JsonPropertyName("ranges")] long[][] Ranges)
{
    /// <summary>A payload over this size is not an ack this protocol writes; it is refused before parsing.</summary>
    public const int MaxPayloadBytes = 64 * 1024;

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this);

    /// <summary>True when <paramref name="sequence"/> is inside one of the ranges (binary search; ranges are ascending).</summary>
    public bool Covers(long sequence)
    {
        int lo = 0, hi = Ranges.Length - 1;
        while (lo <= hi)
        {
            var mid = (lo + hi) >>> 1;
            var r = Ranges[mid];
            if (sequence < r[0]) hi = mid - 1;
            else if (sequence > r[1]) lo = mid + 1;
            else return true;
        }
        return false;
    }

    /// <summary>Parses and checks an ack; null with <paramref name="problem"/> set when it is not one.</summary>
    public static IngestAck? TryParse(ReadOnlySpan<byte> json, out string? problem)
    {
        problem = null;
        if (json.Length > MaxPayloadBytes)
        {
            problem = $"{json.Length} bytes > {MaxPayloadBytes}";
            return null;
        }
        IngestAck? ack;
        try { ack = JsonSerializer.Deserialize<IngestAck>(json); }
        catch (JsonException e)
        {
            problem = "not JSON: " + e.Message;
            return null;
        }
        if (ack?.Epoch is null || ack.Ranges is null)
        {
            problem = "epoch and ranges are required";
            return null;
        }
        long previous = long.MinValue;
        foreach (var r in ack.Ranges)
        {
            if (r is not { Length: 2 } || r[0] > r[1] || r[0] <= previous)
            {
                problem = "ranges must be ascending, non-overlapping [first, last] pairs";
                return null;
            }
            previous = r[1];
        }
        return ack;
    }

    /// <summary>Folds sequence numbers (any order, duplicates allowed) into ascending inclusive ranges.</summary>
    public static long[][] ToRanges(IEnumerable<long> sequences)
    {
        var sorted = sequences.Order().ToArray();
        var ranges = new List<long[]>();
        for (var i = 0; i < sorted.Length; i++)
        {
            if (ranges.Count > 0 && sorted[i] <= ranges[^1][1] + 1) ranges[^1][1] = Math.Max(ranges[^1][1], sorted[i]);
            else ranges.Add([sorted[i], sorted[i]]);
        }
        return [.. ranges];
    }
}
