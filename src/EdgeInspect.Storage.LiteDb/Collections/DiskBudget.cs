using LiteDB;

namespace EdgeInspect.Storage.LiteDb.Collections;

/// <summary>
/// The disk budget (<see cref="StoreOptions.BudgetBytes"/>): the data file, its log and the model spool together, as
/// measured on disk (<see cref="DiskBytes"/>), stay within it. Evictions by <see cref="EvictionPolicy"/> and their
/// counters are kept in the "meta" document of the state collection so they survive a restart.
/// <para>
/// Why a learned density: LiteDB never shrinks its data file; a deleted record's pages are reused by the next ones.
/// So the file is held at its size by keeping the records' own bytes (<see cref="StoredBytes"/>) below what the file
/// held when it first reached its share of the budget: <see cref="Density"/> (record bytes per data-file byte) times
/// the share. The log's share is one checkpoint's worth (<see cref="StoreOptions.EffectiveCheckpointLogBytes"/>).
/// </para>
/// <para>
/// Records still in the outbox (unsent) are evicted only once no sent record is left: each is counted in
/// <see cref="EvictedUnsent"/> and the store raises an alarm for it.
/// </para>
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
    // Read directly to ask "is this record still queued?" without removing it (OutboxCollection.Remove removes).
    private readonly ILiteCollection<BsonDocument> _queued;
    private readonly ILiteCollection<BsonDocument> _state;
    private readonly long[] _evictions = new long[EvictionPolicy.ReasonNames.Length];

    /// <summary>Reads the counters stored so far (zero for a new database).</summary>
    public DiskBudget(LiteDatabase db, StoreOptions options, RecordCollection records, OutboxCollection outbox)
    {
        _options = options;
        _records = records;
        _outbox = outbox;
        _queued = db.GetCollection(StoreSchema.Outbox);
        _state = db.GetCollection(StoreSchema.State);
        var meta = _state.FindById(MetaId);
        if (meta is not null)
        {
            StoredBytes = meta["storedBytes"].AsInt64;
            EvictedUnsent = meta["evictedUnsent"].AsInt64;
            for (var i = 0; i < _evictions.Length; i++) _evictions[i] = meta["ev" + i].AsInt64;
            // Absent in files written before the budget counted bytes on disk: learned again when the file fills.
            if (meta.TryGetValue("density", out var density)) Density = density.AsDouble;
            if (meta.TryGetValue("learnedDataBytes", out var learned)) LearnedDataBytes = learned.AsInt64;
            if (meta.TryGetValue("budgetBytes", out var budget)) RecordedBudgetBytes = budget.AsInt64;
            if (meta.TryGetValue("spoolBytes", out var spool)) RecordedSpoolBytes = spool.AsInt64;
        }
    }

    /// <summary>Bytes of the stored records themselves (JSON and document overhead).</summary>
    public long StoredBytes { get; private set; }

    /// <summary>Evicted records that were still in the outbox, since the database was created.</summary>
    public long EvictedUnsent { get; private set; }

    /// <summary>
    /// Record bytes per data-file byte, measured when the data file last grew past its share of the budget; 0 until then.
    /// </summary>
    public double Density { get; private set; }

    /// <summary>The data file's size when <see cref="Density"/> was measured.</summary>
    public long LearnedDataBytes { get; private set; }

    /// <summary>The budget the file was last written under (what <c>store stats</c> on a copy reports).</summary>
    public long RecordedBudgetBytes { get; private set; }

    /// <summary>The spool's size at the last write that measured it.</summary>
    public long RecordedSpoolBytes { get; set; }

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

    /// <summary>The data file's share of the budget: what is left after the spool and one checkpoint's worth of log.</summary>
    public long DataAllowance(DiskBytes disk) => _options.BudgetBytes - disk.Spool - _options.EffectiveCheckpointLogBytes;

    /// <summary>
    /// Learns <see cref="Density"/> when the data file has grown past its share (and past the size it was last learned
    /// at: after an eviction the file keeps its size while its freed pages are reused, so that is no new evidence).
    /// Call with the log as small as it gets (after a checkpoint). True when it learned.
    /// </summary>
    public bool Learn(DiskBytes disk)
    {
        if (_options.BudgetBytes <= 0 || disk.Data <= 0 || disk.Data <= DataAllowance(disk)) return false;
        if (Density > 0 && disk.Data <= LearnedDataBytes) return false;
        // The first time, the file holds every record ever written and no freed page: its density as it is. Later
        // growth comes from freed pages that LiteDB could not reuse (fragmentation) while the records sat between the
        // low water and the limit: measuring again would take that low point for the density and ratchet the store
        // down by up to the hysteresis at every growth (measured: 28% fewer records kept after ten budgets' worth of
        // parts). The density is scaled down by how far the file now overshoots its share instead.
        Density = Density > 0 ? Density * DataAllowance(disk) / disk.Data : StoredBytes / (double)disk.Data;
        LearnedDataBytes = disk.Data;
        return true;
    }

    /// <summary>
    /// Record bytes the data file's share holds: <see cref="Density"/> times the share once learned; before that the
    /// share itself (records never take fewer bytes in the file than their own).
    /// </summary>
    public long ContentLimit(DiskBytes disk)
    {
        var allowance = Math.Max(0, DataAllowance(disk));
        return Density > 0 ? (long)(Density * allowance) : allowance;
    }

    /// <summary>
    /// Past the <see cref="ContentLimit"/>, evicts in policy order down to <see cref="StoreOptions.LowWaterFraction"/> of
    /// it (hysteresis: no eviction per insert): sent records first, unsent ones only when no sent record is left. Never
    /// record <paramref name="keepSequence"/> (the one being appended). In the caller's transaction. Returns the
    /// unsent records it evicted.
    /// </summary>
    public long EvictIfOverBudget(long keepSequence, DiskBytes disk)
    {
        if (_options.BudgetBytes <= 0) return 0;
        var limit = ContentLimit(disk);
        if (StoredBytes <= limit) return 0;
        var target = (long)(limit * _options.LowWaterFraction);
        var unsentBefore = EvictedUnsent;
        Evict(target, keepSequence, sentOnly: true);
        if (StoredBytes > target) Evict(target, keepSequence, sentOnly: false);
        return EvictedUnsent - unsentBefore;
    }

    /// <summary>Writes the counters to the meta document (in the caller's transaction).</summary>
    public void Write()
    {
        var meta = new BsonDocument
        {
            ["_id"] = MetaId,
            ["storedBytes"] = StoredBytes,
            ["evictedUnsent"] = EvictedUnsent,
            ["density"] = Density,
            ["learnedDataBytes"] = LearnedDataBytes,
            ["budgetBytes"] = _options.BudgetBytes,
            ["spoolBytes"] = RecordedSpoolBytes,
        };
        for (var i = 0; i < _evictions.Length; i++) meta["ev" + i] = _evictions[i];
        _state.Upsert(meta);
    }

    private void Evict(long target, long keepSequence, bool sentOnly)
    {
        var afterKey = long.MinValue;
        while (StoredBytes > target)
        {
            var page = _records.EvictionCandidates(afterKey, EvictionPage);
            if (page.Count == 0) return;
            foreach (var v in page)
            {
                afterKey = v.Key;
                if (StoredBytes <= target) return;
                if (v.Sequence == keepSequence) continue;
                var queued = _queued.FindById(v.Sequence) is not null;
                if (sentOnly && queued) continue;
                _records.Delete(v.Sequence);
                if (queued && _outbox.Remove(v.Sequence)) EvictedUnsent++;
                StoredBytes -= v.Size;
                _evictions[v.EvictionClass]++;
            }
        }
    }
}
