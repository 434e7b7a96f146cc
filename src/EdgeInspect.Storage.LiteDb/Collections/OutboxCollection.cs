using EdgeInspect.Core.Storage;
using LiteDB;

namespace EdgeInspect.Storage.LiteDb.Collections;

/// <summary>
/// The uplink's queue: the sequence numbers of records not yet delivered; an item's payload is its record's JSON.
/// Removals are not made durable: a removal lost in a crash only re-sends a record the cloud deduplicates. The
/// log they grow is checkpointed by size.
/// <para>
/// A parked item (the broker kept refusing it) stays queued, so it is still unsent for the disk budget, but carries
/// <c>parked</c> and the reason: the reads the uplink sends from skip it, across restarts too, until someone removes it.
/// </para>
/// <para>Not thread-safe: the store calls it under its one lock.</para>
/// </summary>
internal sealed class OutboxCollection
{
    private readonly ILiteCollection<BsonDocument> _outbox;
    private readonly StoreFile _file;
    private readonly RecordCollection _records;

    /// <summary>Opens the queue; payloads are read from <paramref name="records"/>.</summary>
    public OutboxCollection(StoreFile file, RecordCollection records)
    {
        _file = file;
        _records = records;
        _outbox = file.Database.GetCollection(StoreSchema.Outbox);
    }

    private const string ParkedField = "parked";
    private const string ReasonField = "reason";
    private static readonly BsonExpression NotParked = Query.Not(ParkedField, true);

    /// <summary>Items queued, parked ones included.</summary>
    public long Count => _outbox.LongCount();

    /// <summary>Items parked: queued, not sent (<see cref="Park"/>).</summary>
    public long ParkedCount => _outbox.Count(Query.EQ(ParkedField, true));

    /// <summary>Parked items, oldest first, with the reason each was parked.</summary>
    public IReadOnlyList<(long Sequence, string Reason)> Parked() =>
        [.. _outbox.Find(Query.EQ(ParkedField, true)).Select(d => (d["_id"].AsInt64, d[ReasonField].AsString ?? "")).OrderBy(x => x.Item1)];

    /// <summary>
    /// Marks a queued item parked with <paramref name="reason"/>, durably (a restart must neither send it again nor
    /// forget it). False when it is not queued (delivered or evicted meanwhile).
    /// </summary>
    public bool Park(long sequence, string reason)
    {
        var updated = _outbox.Update(new BsonDocument { ["_id"] = sequence, [ParkedField] = true, [ReasonField] = reason });
        if (updated) _file.Durable();
        return updated;
    }

    /// <summary>Un-parks every parked item, durably; returns how many.</summary>
    public int UnparkAll()
    {
        var parked = _outbox.Find(Query.EQ(ParkedField, true)).Select(d => d["_id"].AsInt64).ToList();
        if (parked.Count == 0) return 0;
        _file.BeginTrans();
        try
        {
            foreach (var sequence in parked) _outbox.Update(new BsonDocument { ["_id"] = sequence });
            _file.Commit();
        }
        catch
        {
            _file.Rollback();
            throw;
        }
        _file.Durable();
        return parked.Count;
    }

    /// <summary>Queues record <paramref name="sequence"/> (in the caller's transaction).</summary>
    public void Enqueue(long sequence) => _outbox.Insert(new BsonDocument { ["_id"] = sequence });

    /// <summary>Queues record <paramref name="sequence"/> parked with <paramref name="reason"/> (in the caller's transaction).</summary>
    public void EnqueueParked(long sequence, string reason) =>
        _outbox.Insert(new BsonDocument { ["_id"] = sequence, [ParkedField] = true, [ReasonField] = reason });

    /// <summary>The parked items among outbox documents read some other way (a salvage), with their reasons.</summary>
    public static IReadOnlyDictionary<long, string> ParkedAmong(IEnumerable<BsonDocument> items) =>
        items.Where(d => d["_id"].IsInt64 && d[ParkedField] == true)
            .ToDictionary(d => d["_id"].AsInt64, d => d[ReasonField].IsString ? d[ReasonField].AsString : "");

    /// <summary>Up to <paramref name="max"/> unparked items with offset above <paramref name="afterOffset"/>, oldest first.</summary>
    public IReadOnlyList<OutboxItem> ReadBatch(long afterOffset, int max) =>
        [.. _outbox.Find(Query.And(Query.GT("_id", afterOffset), NotParked), 0, max).Select(d => ToItem(d["_id"].AsInt64)).OfType<OutboxItem>()];

    /// <summary>Up to <paramref name="max"/> of the newest unparked items, oldest of them first.</summary>
    public IReadOnlyList<OutboxItem> ReadNewest(int max)
    {
        // Ordered by the _id index and filtered on the way, so the limit ends the scan (no sort of the whole queue).
        var newest = Query.All("_id", Query.Descending);
        newest.Where.Add(NotParked);
        var ids = _outbox.Find(newest, 0, max).Select(d => d["_id"].AsInt64).ToList();
        ids.Reverse();
        return [.. ids.Select(ToItem).OfType<OutboxItem>()];
    }

    /// <summary>Removes one item; true when it was queued.</summary>
    public bool Remove(long offset) => _outbox.Delete(offset);

    /// <summary>Removes several items in one transaction.</summary>
    public void RemoveMany(IReadOnlyCollection<long> offsets)
    {
        if (offsets.Count == 0) return;
        _file.BeginTrans();
        foreach (var o in offsets) _outbox.Delete(o);
        _file.Commit();
        _file.CheckpointIfLogLarge();
    }

    /// <summary>Removes every item with offset up to <paramref name="offset"/>.</summary>
    public void RemoveUpTo(long offset)
    {
        _outbox.DeleteMany(Query.LTE("_id", offset));
        _file.CheckpointIfLogLarge();
    }

    private OutboxItem? ToItem(long sequence)
    {
        if (_records.FindJson(sequence) is not { } json)
        {
            _outbox.Delete(sequence); // evicted meanwhile
            return null;
        }
        return new OutboxItem(sequence, json);
    }
}
