using LiteDB;

namespace EdgeInspect.Storage.LiteDb.Collections;

/// <summary>
/// The disk budget over the records: bytes stored, evictions by <see cref="EvictionPolicy"/> once the budget is
/// exceeded, and their counters, kept in the "meta" document of the state collection so they survive a restart.
/// An evicted record also leaves the outbox; if it was still there it counts as evicted unsent.
/// <para>Not thread-safe: the store calls it under its one lock.</para>
/// </summary>
internal sealed class DiskBudget
{
    private const string MetaId = "meta";
    // Candidates read per query while evicting.
    private const int EvictionPage = 64;

    private readonly StoreOptions _options;
    private readonly RecordCollection _records;
    private readonly OutboxCollection _outbox;
    private readonly ILiteCollection<BsonDocument> _state;
    private readonly long[] _evictions = new long[EvictionPolicy.ReasonNames.Length];

    /// <summary>Reads the counters stored so far (zero for a new database).</summary>
    public DiskBudget(LiteDatabase db, StoreOptions options, RecordCollection records, OutboxCollection outbox)
    {
        _options = options;
        _records = records;
        _outbox = outbox;
        _state = db.GetCollection(StoreSchema.State);
        var meta = _state.FindById(MetaId);
        if (meta is not null)
        {
            StoredBytes = meta["storedBytes"].AsInt64;
            EvictedUnsent = meta["evictedUnsent"].AsInt64;
            for (var i = 0; i < _evictions.Length; i++) _evictions[i] = meta["ev" + i].AsInt64;
        }
    }

    /// <summary>Bytes the stored records count against the budget.</summary>
    public long StoredBytes { get; private set; }

    /// <summary>Evicted records that were still in the outbox, since the database was created.</summary>
    public long EvictedUnsent { get; private set; }

    /// <summary>Evictions by reason (<see cref="EvictionPolicy.ReasonNames"/>) since the database was created.</summary>
    public Dictionary<string, long> Evictions() =>
        EvictionPolicy.ReasonNames.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => _evictions[x.i]);

    /// <summary>The counters as they are now, for <see cref="Restore"/> after a rollback.</summary>
    public DiskBudgetMark Mark() => new(StoredBytes, EvictedUnsent, (long[])_evictions.Clone());

    /// <summary>Puts the counters back as they were at <paramref name="mark"/>.</summary>
    public void Restore(DiskBudgetMark mark)
    {
        StoredBytes = mark.StoredBytes;
        EvictedUnsent = mark.EvictedUnsent;
        Array.Copy(mark.Evictions, _evictions, mark.Evictions.Length);
    }

    /// <summary>Counts <paramref name="bytes"/> of a newly stored record.</summary>
    public void Add(long bytes) => StoredBytes += bytes;

    /// <summary>
    /// Past the budget, evicts in policy order down to <see cref="StoreOptions.LowWaterFraction"/> of it (hysteresis:
    /// no eviction per insert), never record <paramref name="keepSequence"/> (the one being appended). In the caller's transaction.
    /// </summary>
    public void EvictIfOverBudget(long keepSequence)
    {
        if (_options.BudgetBytes <= 0 || StoredBytes <= _options.BudgetBytes) return;
        var target = (long)(_options.BudgetBytes * _options.LowWaterFraction);
        while (StoredBytes > target)
        {
            var victims = _records.EvictionCandidates(EvictionPage);
            if (victims.Count <= 1) break;
            foreach (var v in victims)
            {
                if (StoredBytes <= target) break;
                if (v.Sequence == keepSequence) continue;
                _records.Delete(v.Sequence);
                if (_outbox.Remove(v.Sequence)) EvictedUnsent++;
                StoredBytes -= v.Size;
                _evictions[v.EvictionClass]++;
            }
        }
    }

    /// <summary>Writes the counters to the meta document (in the caller's transaction).</summary>
    public void Write()
    {
        var meta = new BsonDocument { ["_id"] = MetaId, ["storedBytes"] = StoredBytes, ["evictedUnsent"] = EvictedUnsent };
        for (var i = 0; i < _evictions.Length; i++) meta["ev" + i] = _evictions[i];
        _state.Upsert(meta);
    }
}
