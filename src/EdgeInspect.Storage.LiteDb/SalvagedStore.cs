using EdgeInspect.Core.Storage;
using LiteDB;

namespace EdgeInspect.Storage.LiteDb;

/// <summary>What <see cref="StoreSalvage"/> could read from a corrupt database file.</summary>
/// <param name="Records">Record documents whose JSON still reads as the record they are stored as.</param>
/// <param name="Unsent">Sequence numbers the old outbox still held; null when the outbox could not be read (then every salvaged record counts as unsent).</param>
/// <param name="Audit">Audit event documents.</param>
/// <param name="State">The old device state (mode, slots, high-water mark, evidence); null when unreadable.</param>
/// <param name="Epoch">The old file's store epoch; null when unreadable or older than epochs.</param>
/// <param name="UnreadableRecords">Record documents LiteDB returned but whose content did not read.</param>
/// <param name="RebuildErrors">Pages or documents LiteDB's rebuild reported as unreadable.</param>
/// <param name="Failure">Why nothing could be read; null when the file could be rebuilt.</param>
internal sealed record SalvagedStore(
    IReadOnlyList<BsonDocument> Records,
    IReadOnlySet<long>? Unsent,
    IReadOnlyList<BsonDocument> Audit,
    DeviceState? State,
    string? Epoch,
    long UnreadableRecords,
    long RebuildErrors,
    string? Failure)
{
    /// <summary>
    /// The highest <c>"sequence":N</c> found in the old file's raw bytes (<see cref="StoreSalvage.ScanHighestSequence"/>):
    /// what is still visible when LiteDB cannot read the file at all (a destroyed header).
    /// </summary>
    public long RawHighestSequence { get; init; }

    /// <summary>
    /// The old outbox's parked items (sequence, reason) when it was read whole: they stay parked, or the broker's
    /// refusals would begin again from the first try. Empty when the outbox was not trusted (all pending then).
    /// </summary>
    public IReadOnlyDictionary<long, string> Parked { get; init; } = new Dictionary<long, string>();

    /// <summary>The highest sequence number visible in the old file: its high-water mark, its highest record, or its raw bytes.</summary>
    public long HighestSequence => Math.Max(RawHighestSequence,
        Math.Max(State?.LastSequence ?? 0, Records.Count == 0 ? 0 : Records.Max(r => r["_id"].AsInt64)));

    /// <summary>Nothing readable, for <paramref name="reason"/>.</summary>
    public static SalvagedStore Nothing(string reason) => new([], null, [], null, null, 0, 0, reason);

    /// <summary>One line for the log and the "store.recovered" audit event.</summary>
    public string Summary(long unsent) => Failure is not null
        ? $"nothing salvaged ({Failure}); highest sequence in its raw bytes {RawHighestSequence}"
        : $"salvaged {Records.Count} records ({unsent} unsent, kept in the outbox), {Audit.Count} audit events, " +
          $"state {(State is null ? "lost" : "kept")}; {UnreadableRecords} unreadable records, {RebuildErrors} rebuild errors; " +
          $"highest sequence {HighestSequence}, old epoch {Epoch ?? "none"}";
}
