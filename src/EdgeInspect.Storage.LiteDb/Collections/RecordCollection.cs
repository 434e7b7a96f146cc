using LiteDB;

namespace EdgeInspect.Storage.LiteDb.Collections;

/// <summary>
/// The inspection records, by sequence number, with the indexes the store reads them by: capture time ("at") and
/// eviction order ("ek": the <see cref="EvictionPolicy"/> class, then the sequence, so oldest first within a class).
/// <para>Not thread-safe: the store calls it under its one lock.</para>
/// </summary>
internal sealed class RecordCollection
{
    // Sequence numbers stay far below this, so class * stride + sequence sorts by class, then by sequence.
    private const long ClassStride = 1_000_000_000_000_000L;
    // Bytes a document costs beyond its JSON (keys, index nodes), roughly; counted against the disk budget.
    private const long DocumentOverhead = 96;

    private readonly ILiteCollection<BsonDocument> _records;

    /// <summary>Opens the collection and ensures its indexes.</summary>
    public RecordCollection(LiteDatabase db)
    {
        _records = db.GetCollection(StoreSchema.Records);
        _records.EnsureIndex("at");
        _records.EnsureIndex("ek");
    }

    /// <summary>Records stored.</summary>
    public long Count => _records.LongCount();

    /// <summary>Inserts one record (in the caller's transaction); returns the bytes it counts against the budget.</summary>
    public long Insert(PreparedRecord prepared)
    {
        var record = prepared.Record;
        var size = prepared.Json.Length + DocumentOverhead;
        _records.Insert(new BsonDocument
        {
            ["_id"] = record.Sequence,
            ["at"] = record.CapturedAt.UtcDateTime,
            ["ek"] = prepared.EvictionClass * ClassStride + record.Sequence,
            ["size"] = size,
            ["json"] = prepared.Json,
        });
        return size;
    }

    /// <summary>Inserts a record document as read from another file of this store (salvage); returns its budget bytes.</summary>
    public long InsertDocument(BsonDocument document)
    {
        _records.Insert(document);
        return document["size"].AsInt64;
    }

    /// <summary>The stored JSON of record <paramref name="sequence"/>; null when it is not stored (evicted).</summary>
    public byte[]? FindJson(long sequence) => _records.FindById(sequence)?["json"].AsBinary;

    /// <summary>Up to <paramref name="max"/> records with sequence above <paramref name="afterSequence"/>, in sequence order.</summary>
    public List<StoredRecord> Page(long afterSequence, int max) =>
        [.. _records.Find(Query.GT("_id", afterSequence), 0, max).Select(d => new StoredRecord(d["_id"].AsInt64, CapturedAt(d), d["json"].AsBinary))];

    /// <summary>Capture time of the lowest sequence stored; null when empty.</summary>
    public DateTimeOffset? OldestCapturedAt() => CapturedAtOrNull(_records.Find(Query.All("_id", Query.Ascending), 0, 1).FirstOrDefault());

    /// <summary>Capture time of the highest sequence stored; null when empty.</summary>
    public DateTimeOffset? NewestCapturedAt() => CapturedAtOrNull(_records.Find(Query.All("_id", Query.Descending), 0, 1).FirstOrDefault());

    /// <summary>Up to <paramref name="max"/> records in eviction order whose eviction key is above <paramref name="afterKey"/>.</summary>
    public List<EvictionCandidate> EvictionCandidates(long afterKey, int max) =>
        [.. _records.Find(Query.GT("ek", afterKey), 0, max)
            .Select(d => (Key: d["ek"].AsInt64, Doc: d))
            .Select(x => new EvictionCandidate(x.Doc["_id"].AsInt64, (int)(x.Key / ClassStride), x.Doc["size"].AsInt64, x.Key))];

    /// <summary>Deletes record <paramref name="sequence"/> (in the caller's transaction).</summary>
    public void Delete(long sequence) => _records.Delete(sequence);

    private static DateTimeOffset CapturedAt(BsonDocument d) => new(d["at"].AsDateTime.ToUniversalTime(), TimeSpan.Zero);

    private static DateTimeOffset? CapturedAtOrNull(BsonDocument? d) => d is null ? null : CapturedAt(d);
}
