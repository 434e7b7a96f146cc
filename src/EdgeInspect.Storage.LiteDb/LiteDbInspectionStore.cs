using System.Text.Json;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;
using EdgeInspect.Storage.LiteDb.Collections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeInspect.Storage.LiteDb;

/// <summary>
/// The local store on LiteDB 5: records, audit events, telemetry snapshots, device state, and the uplink outbox,
/// composed from one small class per concern over one database file (<see cref="StoreFile"/>).
/// <para>
/// Durability: every durable call commits, then makes the commit durable with about one fsync of the log
/// (<see cref="StoreFile.Durable"/>), so when <see cref="Append"/> returns the record is on the disk.
/// <see cref="AppendMany"/> stores several records with one commit and one fsync (group commit). The sequence
/// high-water mark and the disk budget's counters are saved in the same transaction as the records, so a sequence
/// number is never handed out twice across a crash.
/// </para>
/// <para>
/// A file that will not open (torn, not a LiteDB file) is renamed to "&lt;name&gt;.corrupt-&lt;UTC time&gt;", counted, logged,
/// audited in the fresh database, and the service goes on with that fresh one instead of crash-looping.
/// </para>
/// <para>Thread-safe: one lock serializes all access (a station writes a few parts per second).</para>
/// </summary>
public sealed class LiteDbInspectionStore : IInspectionStore, IOutboxQueue, ITelemetryStore
{
    private const int ExportPage = 500;

    private readonly StoreOptions _options;
    private readonly Lock _gate = new();
    private readonly StoreFile _file;
    private readonly RecordCollection _records;
    private readonly OutboxCollection _outbox;
    private readonly AuditCollection _audit;
    private readonly TelemetryCollection _telemetry;
    private readonly DeviceStateDocument _state;
    private readonly DiskBudget _budget;

    /// <summary>Opens (or creates) the store at <see cref="StoreOptions.Path"/>, recovering from a corrupt file.</summary>
    /// <param name="options">The "Store" section; validated here.</param>
    /// <param name="time">Clock for the corrupt-file stamp and its audit event; default: the system clock.</param>
    /// <param name="log">Logs recovery and a LiteDB that lacks the fast durable commit.</param>
    /// <param name="openStream">Opens a file of the database for read/write (tests inject a power-loss stream); default: <see cref="DurableFileStream"/>.</param>
    public LiteDbInspectionStore(StoreOptions options, TimeProvider? time = null, ILogger<LiteDbInspectionStore>? log = null,
        Func<string, Stream>? openStream = null)
    {
        options.Validate();
        _options = options;
        time ??= TimeProvider.System;
        _file = new StoreFile(options, time, (ILogger?)log ?? NullLogger.Instance, openStream);
        // Indexes are created in this order (records, audit, telemetry): on a new file it decides the page layout.
        _records = new RecordCollection(_file.Database);
        _outbox = new OutboxCollection(_file, _records);
        _audit = new AuditCollection(_file);
        _telemetry = new TelemetryCollection(_file);
        _state = new DeviceStateDocument(_file.Database);
        _budget = new DiskBudget(_file.Database, options, _records, _outbox);
        if (_file.MovedAsideTo is { } movedAside)
        {
            AppendAudit(new AuditEvent(time.GetUtcNow(), "store.recovered", "store", "store", movedAside, options.Path,
                "database would not open; moved aside, started fresh"));
        }
        else
        {
            _file.Checkpoint();
        }
    }

    /// <summary>The data file.</summary>
    public string Path => _options.Path;

    /// <summary>Database files found corrupt and moved aside, ever, beside this path.</summary>
    public int RecoveredCorruptFiles => _file.RecoveredCorruptFiles;

    /// <inheritdoc/>
    public event Action? Appended;

    /// <inheritdoc/>
    public long PendingCount
    {
        get { lock (_gate) return _outbox.Count; }
    }

    /// <summary>Evicted records that were still waiting for the uplink, since the database was created.</summary>
    public long EvictedUnsent
    {
        get { lock (_gate) return _budget.EvictedUnsent; }
    }

    /// <summary>Evictions by reason (<see cref="EvictionPolicy.ReasonNames"/>) since the database was created.</summary>
    public IReadOnlyDictionary<string, long> Evictions
    {
        get { lock (_gate) return _budget.Evictions(); }
    }

    /// <summary>Fsync calls made by the data and log files so far (when they are <see cref="DurableFileStream"/>s).</summary>
    public long DiskFlushes => _file.DiskFlushes;

    /// <summary>Checkpoints (log copied into the data file) run by this instance, at open included.</summary>
    public long Checkpoints => _file.Checkpoints;

    /// <summary>True when commits are made durable by waiting for LiteDB's log writer (one fsync) rather than a checkpoint.</summary>
    public bool FastDurableCommit => _file.FastDurableCommit;

    /// <inheritdoc/>
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
        var prepared = new PreparedRecord[records.Count];
        for (var i = 0; i < records.Count; i++)
        {
            var r = records[i] ?? throw new ArgumentException($"records[{i}] is null", nameof(records));
            prepared[i] = PreparedRecord.Create(r, _options.LowConfidence);
        }
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_file.IsDisposed, this);
            _state.ThrowIfNotAscending(prepared.Select(p => p.Record.Sequence));
            var mark = _budget.Mark();
            _file.BeginTrans();
            try
            {
                foreach (var p in prepared)
                {
                    _budget.Add(_records.Insert(p));
                    _outbox.Enqueue(p.Record.Sequence);
                }
                _state.Advance(prepared[^1].Record.Sequence);
                _budget.EvictIfOverBudget(keepSequence: _state.LastSequence);
                _budget.Write();
                _file.Commit();
            }
            catch
            {
                _file.Rollback();
                _state.Reload();
                _budget.Restore(mark);
                throw;
            }
            _file.Durable();
        }
        Appended?.Invoke();
    }

    /// <inheritdoc/>
    public void AppendAudit(AuditEvent auditEvent)
    {
        ArgumentNullException.ThrowIfNull(auditEvent);
        lock (_gate) _audit.Append(auditEvent);
    }

    /// <summary>Stores one telemetry snapshot (already serialized, camelCase JSON).</summary>
    public void AppendTelemetry(DateTimeOffset at, byte[] json)
    {
        lock (_gate) _telemetry.Append(at, json);
    }

    /// <summary>Telemetry snapshots as stored JSON, optionally only those taken at or after <paramref name="since"/>.</summary>
    public IEnumerable<byte[]> TelemetrySnapshots(DateTimeOffset? since = null)
    {
        lock (_gate) return _telemetry.Find(since);
    }

    /// <inheritdoc/>
    public DeviceState LoadState()
    {
        lock (_gate) return _state.Load();
    }

    /// <inheritdoc/>
    public void SaveState(DeviceState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (_gate)
        {
            _state.Save(state);
            _file.Durable();
        }
    }

    /// <inheritdoc/>
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
            List<StoredRecord> page;
            lock (_gate) page = _records.Page(after, ExportPage);
            if (page.Count == 0) yield break;
            foreach (var r in page)
            {
                after = r.Sequence;
                if (since is { } s && r.CapturedAt < s) continue;
                yield return r.Json;
            }
        }
    }

    /// <inheritdoc/>
    public IEnumerable<AuditEvent> AuditEvents(DateTimeOffset? since = null)
    {
        lock (_gate) return _audit.Find(since);
    }

    /// <inheritdoc/>
    public IReadOnlyList<OutboxItem> ReadBatch(long afterOffset, int max)
    {
        lock (_gate) return _outbox.ReadBatch(afterOffset, max);
    }

    /// <inheritdoc/>
    public IReadOnlyList<OutboxItem> ReadNewest(int max)
    {
        lock (_gate) return _outbox.ReadNewest(max);
    }

    /// <inheritdoc/>
    public void Remove(long offset)
    {
        lock (_gate) _outbox.Remove(offset);
    }

    /// <inheritdoc/>
    public void RemoveMany(IReadOnlyCollection<long> offsets)
    {
        lock (_gate) _outbox.RemoveMany(offsets);
    }

    /// <inheritdoc/>
    public void RemoveUpTo(long offset)
    {
        lock (_gate) _outbox.RemoveUpTo(offset);
    }

    /// <summary>Counts and facts for <c>store stats</c> and telemetry, read under one lock.</summary>
    public StoreStatistics Statistics()
    {
        lock (_gate)
        {
            return new StoreStatistics(
                _options.Path,
                _records.Count,
                _outbox.Count,
                _budget.StoredBytes,
                _options.BudgetBytes,
                _state.LastSequence,
                _records.OldestCapturedAt(),
                _records.NewestCapturedAt(),
                _budget.Evictions(),
                _budget.EvictedUnsent,
                _audit.Count,
                _telemetry.Count,
                RecoveredCorruptFiles);
        }
    }

    /// <summary>Closes the database (checkpointing its log) and its files; a second call does nothing.</summary>
    public void Dispose()
    {
        lock (_gate) _file.Dispose();
    }

    /// <summary>
    /// Opens a consistent copy of a store that another process (the running service) holds: both files are copied to a
    /// temporary folder and opened there, so <c>store stats</c> / <c>store export</c> never write into the live files.
    /// Disposing the returned store deletes the copy.
    /// </summary>
    public static SnapshotStore OpenSnapshot(string path) => SnapshotReader.Open(path);

    /// <summary>The write-ahead log beside a data file: "&lt;name&gt;-log&lt;ext&gt;".</summary>
    public static string LogPath(string dataPath) => StoreFile.LogPath(dataPath);
}
