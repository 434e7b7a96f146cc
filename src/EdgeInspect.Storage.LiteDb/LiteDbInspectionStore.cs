using System.Text.Json;
using JsonSerializer = System.Text.Json.JsonSerializer;
using JsonException = System.Text.Json.JsonException;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;
using LiteDB;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeInspect.Storage.LiteDb;

/// <summary>Counters and facts for <c>edgeinspect store stats</c> and the telemetry message.</summary>
public sealed record StoreStatistics(
    string Path,
    long Records,
    long PendingUplink,
    long StoredBytes,
    long BudgetBytes,
    long LastSequence,
    DateTimeOffset? Oldest,
    DateTimeOffset? Newest,
    IReadOnlyDictionary<string, long> Evictions,
    long EvictedUnsent,
    long AuditEvents,
    long TelemetrySnapshots,
    int RecoveredCorruptFiles);

/// <summary>
/// The local store on LiteDB 5: records, audit events, telemetry snapshots, device state, and the uplink outbox.
/// <para>
/// Durability: LiteDB 5 writes a commit's pages to its log through a background writer thread, so <c>Commit()</c> returns
/// before the pages are even in the OS, let alone on the disk. Every durable call here therefore commits, waits for that
/// writer (<see cref="LogWriterWait"/>) and flushes the log file, a <see cref="DurableFileStream"/> whose <c>Flush()</c>
/// is an fsync: about one fsync per commit. On open LiteDB replays the confirmed transactions of the log, so when
/// <see cref="Append"/> returns the record is on the disk. The log is copied into the data file (checkpoint, several
/// fsyncs) only once it exceeds <see cref="StoreOptions.CheckpointLogBytes"/>, at open and at dispose.
/// <see cref="AppendMany"/> stores several records with one commit and one fsync (group commit). The sequence
/// high-water mark is saved in the same transaction as the record, so a sequence number is never handed out twice
/// across a crash.
/// </para>
/// <para>
/// A file that will not open (torn, not a LiteDB file) is renamed to "&lt;name&gt;.corrupt-&lt;UTC time&gt;", counted, logged,
/// audited in the fresh database, and the service goes on with that fresh one instead of crash-looping.
/// </para>
/// <para>Thread-safe: one lock serializes all access (a station writes a few parts per second).</para>
/// </summary>
public sealed class LiteDbInspectionStore : IInspectionStore, IOutboxQueue, ITelemetryStore
{
    private const string RecordsName = "records";
    private const string OutboxName = "outbox";
    private const string AuditName = "audit";
    private const string TelemetryName = "telemetry";
    private const string StateName = "state";
    private const long ClassStride = 1_000_000_000_000_000L;

    private readonly StoreOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly Func<string, Stream> _open;
    private readonly Lock _gate = new();
    private readonly Stream _dataStream;
    private readonly Stream _logStream;
    private readonly LiteDatabase _db;
    private readonly ILiteCollection<BsonDocument> _records;
    private readonly ILiteCollection<BsonDocument> _outbox;
    private readonly ILiteCollection<BsonDocument> _audit;
    private readonly ILiteCollection<BsonDocument> _telemetry;
    private readonly ILiteCollection<BsonDocument> _state;
    private DeviceState _deviceState;
    private long _storedBytes;
    private long _evictedUnsent;
    private readonly long[] _evictions = new long[EvictionPolicy.ReasonNames.Length];
    private readonly Action? _waitLogWriter;
    private long _checkpoints;
    private bool _disposed;

    /// <param name="openStream">Opens a file of the database for read/write (tests inject a power-loss stream); default: <see cref="DurableFileStream"/>.</param>
    public LiteDbInspectionStore(StoreOptions options, TimeProvider? time = null, ILogger<LiteDbInspectionStore>? log = null,
        Func<string, Stream>? openStream = null)
    {
        options.Validate();
        _options = options;
        _time = time ?? TimeProvider.System;
        _log = (ILogger?)log ?? NullLogger.Instance;
        // The log fsyncs only when the store asks (Durable); the data file on every flush LiteDB's checkpoint makes.
        _open = openStream ?? (p => new DurableFileStream(p, FileMode.OpenOrCreate, syncOnFlush: p != LogPath(options.Path)));
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(options.Path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);

        RecoveredCorruptFiles = CountCorrupt(options.Path);
        string? movedAside = null;
        try
        {
            (_dataStream, _logStream, _db) = OpenAndVerify();
        }
        catch (Exception e) when (e is LiteException or InvalidCastException or IOException or InvalidOperationException or ArgumentException
                                    or IndexOutOfRangeException or JsonException or NullReferenceException or OverflowException)
        {
            movedAside = MoveAside(e);
            RecoveredCorruptFiles++;
            (_dataStream, _logStream, _db) = OpenAndVerify();
        }
        _records = _db.GetCollection(RecordsName);
        _outbox = _db.GetCollection(OutboxName);
        _audit = _db.GetCollection(AuditName);
        _telemetry = _db.GetCollection(TelemetryName);
        _state = _db.GetCollection(StateName);
        _records.EnsureIndex("at");
        _records.EnsureIndex("ek");
        _audit.EnsureIndex("at");
        _telemetry.EnsureIndex("at");
        _waitLogWriter = LogWriterWait.TryCreate(_db);
        if (_waitLogWriter is null)
        {
            _log.LogWarning("LiteDB internals differ from 5.0.20: every commit checkpoints (slower, still durable)");
        }
        _deviceState = ReadState();
        var meta = _state.FindById("meta");
        if (meta is not null)
        {
            _storedBytes = meta["storedBytes"].AsInt64;
            _evictedUnsent = meta["evictedUnsent"].AsInt64;
            for (var i = 0; i < _evictions.Length; i++) _evictions[i] = meta["ev" + i].AsInt64;
        }
        if (movedAside is not null)
        {
            AppendAudit(new AuditEvent(_time.GetUtcNow(), "store.recovered", "store", "store", movedAside, options.Path,
                "database would not open; moved aside, started fresh"));
        }
        else
        {
            Checkpoint();
        }
    }

    public string Path => _options.Path;

    /// <summary>Database files found corrupt and moved aside, ever, beside this path.</summary>
    public int RecoveredCorruptFiles { get; private set; }

    public event Action? Appended;

    public long PendingCount
    {
        get { lock (_gate) return _outbox.LongCount(); }
    }

    /// <summary>Evicted records that were still waiting for the uplink, since the database was created.</summary>
    public long EvictedUnsent
    {
        get { lock (_gate) return _evictedUnsent; }
    }

    /// <summary>Evictions by reason (<see cref="EvictionPolicy.ReasonNames"/>) since the database was created.</summary>
    public IReadOnlyDictionary<string, long> Evictions
    {
        get
        {
            lock (_gate) return EvictionPolicy.ReasonNames.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => _evictions[x.i]);
        }
    }

    public void Append(InspectionRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        AppendMany([record]);
    }

    /// <summary>
    /// Durably stores several records (ascending sequence numbers) in one transaction with one log fsync (group
    /// commit): all of them are on the disk when this returns, or, if it throws, none of them.
    /// </summary>
    public void AppendMany(IReadOnlyList<InspectionRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0) return;
        var prepared = new (InspectionRecord Record, byte[] Json, int Class)[records.Count];
        for (var i = 0; i < records.Count; i++)
        {
            var r = records[i] ?? throw new ArgumentException($"records[{i}] is null", nameof(records));
            prepared[i] = (r, JsonSerializer.SerializeToUtf8Bytes(r, RecordJson.Options), EvictionPolicy.Classify(r, _options.LowConfidence));
        }
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var last = _deviceState.LastSequence;
            foreach (var (r, _, _) in prepared)
            {
                if (r.Sequence <= last)
                {
                    throw new InvalidOperationException(
                        $"record sequence {r.Sequence} is not above the stored high-water mark {last} (sequence numbers are never reused)");
                }
                last = r.Sequence;
            }
            var storedBytes = _storedBytes;
            var evictedUnsent = _evictedUnsent;
            var evictions = (long[])_evictions.Clone();
            _db.BeginTrans();
            try
            {
                foreach (var (record, json, cls) in prepared)
                {
                    var size = json.Length + 96L; // document overhead (keys, index nodes), roughly
                    _records.Insert(new BsonDocument
                    {
                        ["_id"] = record.Sequence,
                        ["at"] = record.CapturedAt.UtcDateTime,
                        ["ek"] = cls * ClassStride + record.Sequence,
                        ["size"] = size,
                        ["json"] = json,
                    });
                    _outbox.Insert(new BsonDocument { ["_id"] = record.Sequence });
                    _storedBytes += size;
                    _deviceState.LastSequence = record.Sequence;
                }
                WriteState(_deviceState);
                EvictIfOverBudget();
                WriteMeta();
                _db.Commit();
            }
            catch
            {
                _db.Rollback();
                _deviceState = ReadState();
                _storedBytes = storedBytes;
                _evictedUnsent = evictedUnsent;
                Array.Copy(evictions, _evictions, evictions.Length);
                throw;
            }
            Durable();
        }
        Appended?.Invoke();
    }

    public void AppendAudit(AuditEvent auditEvent)
    {
        ArgumentNullException.ThrowIfNull(auditEvent);
        lock (_gate)
        {
            _audit.Insert(new BsonDocument
            {
                ["at"] = auditEvent.At.UtcDateTime,
                ["kind"] = auditEvent.Kind,
                ["json"] = JsonSerializer.SerializeToUtf8Bytes(auditEvent, RecordJson.Options),
            });
            Durable();
        }
    }

    /// <summary>Stores one telemetry snapshot (already serialized, camelCase JSON).</summary>
    public void AppendTelemetry(DateTimeOffset at, byte[] json)
    {
        lock (_gate)
        {
            _telemetry.Insert(new BsonDocument { ["at"] = at.UtcDateTime, ["json"] = json });
            Durable();
        }
    }

    public IEnumerable<byte[]> TelemetrySnapshots(DateTimeOffset? since = null)
    {
        List<BsonDocument> docs;
        lock (_gate)
        {
            docs = since is { } s ? [.. _telemetry.Find(Query.GTE("at", s.UtcDateTime))] : [.. _telemetry.FindAll()];
        }
        return docs.Select(d => d["json"].AsBinary);
    }

    public DeviceState LoadState()
    {
        lock (_gate) return Clone(_deviceState);
    }

    public void SaveState(DeviceState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (_gate)
        {
            var copy = Clone(state);
            // The high-water mark only moves forward: a stale copy of the state must not let a sequence be reused.
            copy.LastSequence = Math.Max(copy.LastSequence, _deviceState.LastSequence);
            WriteState(copy);
            _deviceState = copy;
            Durable();
        }
    }

    public IEnumerable<InspectionRecord> Records(DateTimeOffset? since = null)
    {
        foreach (var json in RecordJsons(since))
        {
            yield return JsonSerializer.Deserialize<InspectionRecord>(json, RecordJson.Options)!;
        }
    }

    /// <summary>Records in sequence order as their stored JSON (what <c>store export</c> writes), paged so no lock is held across yields.</summary>
    public IEnumerable<byte[]> RecordJsons(DateTimeOffset? since = null)
    {
        long after = long.MinValue;
        while (true)
        {
            List<BsonDocument> page;
            lock (_gate) page = [.. _records.Find(Query.GT("_id", after), 0, 500)];
            if (page.Count == 0) yield break;
            foreach (var d in page)
            {
                after = d["_id"].AsInt64;
                if (since is { } s && new DateTimeOffset(d["at"].AsDateTime.ToUniversalTime(), TimeSpan.Zero) < s) continue;
                yield return d["json"].AsBinary;
            }
        }
    }

    public IEnumerable<AuditEvent> AuditEvents(DateTimeOffset? since = null)
    {
        List<BsonDocument> docs;
        lock (_gate)
        {
            docs = since is { } s ? [.. _audit.Find(Query.GTE("at", s.UtcDateTime))] : [.. _audit.FindAll()];
        }
        return docs.Select(d => JsonSerializer.Deserialize<AuditEvent>(d["json"].AsBinary, RecordJson.Options)!).OrderBy(a => a.At);
    }

    public IReadOnlyList<OutboxItem> ReadBatch(long afterOffset, int max)
    {
        lock (_gate)
        {
            return [.. _outbox.Find(Query.GT("_id", afterOffset), 0, max).Select(d => ToItem(d["_id"].AsInt64)).OfType<OutboxItem>()];
        }
    }

    public IReadOnlyList<OutboxItem> ReadNewest(int max)
    {
        lock (_gate)
        {
            var ids = _outbox.Find(Query.All("_id", Query.Descending), 0, max).Select(d => d["_id"].AsInt64).ToList();
            ids.Reverse();
            return [.. ids.Select(ToItem).OfType<OutboxItem>()];
        }
    }

    public void Remove(long offset)
    {
        // Not made durable on purpose: losing a removal only re-sends a record the cloud already deduplicates.
        lock (_gate) _outbox.Delete(offset);
    }

    public void RemoveMany(IReadOnlyCollection<long> offsets)
    {
        if (offsets.Count == 0) return;
        lock (_gate)
        {
            // One transaction, no fsync (see Remove); the log still grows, so it is checkpointed by size.
            _db.BeginTrans();
            foreach (var o in offsets) _outbox.Delete(o);
            _db.Commit();
            CheckpointIfLogLarge();
        }
    }

    public void RemoveUpTo(long offset)
    {
        lock (_gate)
        {
            _outbox.DeleteMany(Query.LTE("_id", offset));
            CheckpointIfLogLarge();
        }
    }

    public StoreStatistics Statistics()
    {
        lock (_gate)
        {
            var first = _records.Find(Query.All("_id", Query.Ascending), 0, 1).FirstOrDefault();
            var last = _records.Find(Query.All("_id", Query.Descending), 0, 1).FirstOrDefault();
            static DateTimeOffset? At(BsonDocument? d) => d is null ? null : new DateTimeOffset(d["at"].AsDateTime.ToUniversalTime(), TimeSpan.Zero);
            return new StoreStatistics(
                _options.Path,
                _records.LongCount(),
                _outbox.LongCount(),
                _storedBytes,
                _options.BudgetBytes,
                _deviceState.LastSequence,
                At(first),
                At(last),
                EvictionPolicy.ReasonNames.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => _evictions[x.i]),
                _evictedUnsent,
                _audit.LongCount(),
                _telemetry.LongCount(),
                RecoveredCorruptFiles);
        }
    }

    /// <summary>Fsync calls made by the data and log files so far (when they are <see cref="DurableFileStream"/>s).</summary>
    public long DiskFlushes => (_dataStream as DurableFileStream)?.DiskFlushes + (_logStream as DurableFileStream)?.DiskFlushes ?? 0;

    /// <summary>Checkpoints (log copied into the data file) run by this instance, at open included.</summary>
    public long Checkpoints => Interlocked.Read(ref _checkpoints);

    /// <summary>True when commits are made durable by waiting for LiteDB's log writer (one fsync) rather than a checkpoint.</summary>
    public bool FastDurableCommit => _waitLogWriter is not null;

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _db.Dispose(); // LiteDB checkpoints the log into the data file on a clean close
            _dataStream.Dispose();
            _logStream.Dispose();
        }
    }

    /// <summary>
    /// Opens a consistent copy of a store that another process (the running service) holds: both files are copied to a
    /// temporary folder and opened there, so <c>store stats</c> / <c>store export</c> never write into the live files.
    /// Disposing the returned store deletes the copy.
    /// </summary>
    public static SnapshotStore OpenSnapshot(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"store '{path}' not found", path);
        Exception? last = null;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var dir = Directory.CreateTempSubdirectory("edgeinspect-snapshot-").FullName;
            try
            {
                var copy = System.IO.Path.Combine(dir, System.IO.Path.GetFileName(path));
                CopyShared(path, copy);
                var log = LogPath(path);
                if (File.Exists(log)) CopyShared(log, LogPath(copy));
                var store = new LiteDbInspectionStore(new StoreOptions { Path = copy, BudgetBytes = 0 });
                if (store.RecoveredCorruptFiles > 0)
                {
                    store.Dispose();
                    throw new InvalidDataException($"store '{path}' copy did not open (caught mid-write?)");
                }
                return new SnapshotStore(store, dir);
            }
            catch (Exception e) when (e is IOException or LiteException or InvalidDataException)
            {
                last = e;
                try { Directory.Delete(dir, true); } catch (IOException) { }
                Thread.Sleep(50);
            }
        }
        throw new InvalidDataException($"store '{path}' could not be read: {last?.Message}");
    }

    public static string LogPath(string dataPath) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(dataPath) ?? "",
            System.IO.Path.GetFileNameWithoutExtension(dataPath) + "-log" + System.IO.Path.GetExtension(dataPath));

    private static void CopyShared(string from, string to)
    {
        using var src = new FileStream(from, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var dst = new FileStream(to, FileMode.CreateNew, FileAccess.Write);
        src.CopyTo(dst);
    }

    private (Stream Data, Stream Log, LiteDatabase Db) OpenAndVerify()
    {
        var data = _open(_options.Path);
        Stream? log = null;
        LiteDatabase? db = null;
        try
        {
            log = _open(LogPath(_options.Path));
            db = new LiteDatabase(data, null, log) { CheckpointSize = 0 };
            // Touch every collection the store reads, so a torn file fails here and not at the first part.
            foreach (var name in new[] { RecordsName, OutboxName, AuditName, TelemetryName, StateName })
            {
                var col = db.GetCollection(name);
                _ = col.Find(Query.All("_id", Query.Descending), 0, 1).FirstOrDefault();
                _ = col.LongCount();
            }
            var state = db.GetCollection(StateName).FindById("device");
            if (state is not null) _ = JsonSerializer.Deserialize<DeviceState>(state["json"].AsBinary, RecordJson.Options);
            return (data, log, db);
        }
        catch
        {
            try { db?.Dispose(); } catch (Exception e) when (e is LiteException or IOException or InvalidOperationException) { }
            data.Dispose();
            log?.Dispose();
            throw;
        }
    }

    private string MoveAside(Exception cause)
    {
        var stamp = _time.GetUtcNow().ToString("yyyyMMdd'T'HHmmssfff'Z'");
        var target = $"{_options.Path}.corrupt-{stamp}";
        File.Move(_options.Path, target);
        var log = LogPath(_options.Path);
        if (File.Exists(log)) File.Move(log, target + "-log");
        _log.LogError("Store {Path} would not open ({Error}); moved aside to {Target}, starting with a fresh database",
            _options.Path, cause.Message, target);
        return target;
    }

    private static int CountCorrupt(string path)
    {
        var dir = System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!;
        if (!Directory.Exists(dir)) return 0;
        return Directory.GetFiles(dir, System.IO.Path.GetFileName(path) + ".corrupt-*").Count(f => !f.EndsWith("-log", StringComparison.Ordinal));
    }

    /// <summary>Makes everything committed so far durable (see the class remarks). Called under the gate, no transaction open.</summary>
    private void Durable()
    {
        if (_waitLogWriter is null)
        {
            Checkpoint();
            return;
        }
        // 1. every page of the commit is written to the log stream (LiteDB's writer flushes when its queue runs dry,
        //    but it signals "empty" before that flush, and its flushes reach only the OS: DurableFileStream, syncOnFlush false);
        // 2. fsync the log ourselves, once for the whole commit.
        _waitLogWriter();
        if (_logStream is DurableFileStream durable) durable.Sync();
        else _logStream.Flush(); // an injected stream (tests): its Flush is its sync
        CheckpointIfLogLarge();
    }

    private void CheckpointIfLogLarge()
    {
        long length;
        lock (_logStream) length = _logStream.Length;
        if (length >= _options.CheckpointLogBytes) Checkpoint();
    }

    private void Checkpoint()
    {
        _db.Checkpoint();
        Interlocked.Increment(ref _checkpoints);
    }

    private void EvictIfOverBudget()
    {
        if (_options.BudgetBytes <= 0 || _storedBytes <= _options.BudgetBytes) return;
        var target = (long)(_options.BudgetBytes * _options.LowWaterFraction);
        while (_storedBytes > target)
        {
            var victims = _records.Find(Query.All("ek", Query.Ascending), 0, 64).ToList();
            if (victims.Count <= 1) break; // never evict the record being appended
            foreach (var v in victims)
            {
                if (_storedBytes <= target) break;
                var seq = v["_id"].AsInt64;
                if (seq == _deviceState.LastSequence) continue;
                var cls = (int)(v["ek"].AsInt64 / ClassStride);
                _records.Delete(seq);
                if (_outbox.Delete(seq)) _evictedUnsent++;
                _storedBytes -= v["size"].AsInt64;
                _evictions[cls]++;
            }
        }
    }

    private void WriteMeta()
    {
        var meta = new BsonDocument { ["_id"] = "meta", ["storedBytes"] = _storedBytes, ["evictedUnsent"] = _evictedUnsent };
        for (var i = 0; i < _evictions.Length; i++) meta["ev" + i] = _evictions[i];
        _state.Upsert(meta);
    }

    private void WriteState(DeviceState s) =>
        _state.Upsert(new BsonDocument { ["_id"] = "device", ["json"] = JsonSerializer.SerializeToUtf8Bytes(s, RecordJson.Options) });

    private DeviceState ReadState()
    {
        var doc = _state.FindById("device");
        return doc is null ? new DeviceState() : JsonSerializer.Deserialize<DeviceState>(doc["json"].AsBinary, RecordJson.Options) ?? new DeviceState();
    }

    private OutboxItem? ToItem(long seq)
    {
        var rec = _records.FindById(seq);
        if (rec is null)
        {
            _outbox.Delete(seq); // evicted meanwhile
            return null;
        }
        return new OutboxItem(seq, rec["json"].AsBinary);
    }

    private static DeviceState Clone(DeviceState s) =>
        JsonSerializer.Deserialize<DeviceState>(JsonSerializer.SerializeToUtf8Bytes(s, RecordJson.Options), RecordJson.Options)!;
}

/// <summary>A read-only look at a copy of another process's store; disposing deletes the copy.</summary>
public sealed class SnapshotStore(LiteDbInspectionStore store, string directory) : IDisposable
{
    public LiteDbInspectionStore Store { get; } = store;

    public void Dispose()
    {
        Store.Dispose();
        try { Directory.Delete(directory, true); } catch (IOException) { }
    }
}
