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
/// A file that will not open (torn, not a LiteDB file), or that fails a read later (a damaged page), is renamed to
/// "&lt;name&gt;.corrupt-&lt;UTC time&gt;", counted, logged, and what LiteDB's rebuild can still read of it (<see cref="StoreSalvage"/>)
/// is taken into a fresh file: records (unsent ones stay in the outbox), audit trail, device state, with the sequence
/// high-water mark above the highest number still visible. The fresh file has a new store epoch, so (device, epoch,
/// sequence) is never reused even when nothing could be read. The recovery is audited ("store.recovered") and the
/// service goes on instead of crash-looping.
/// </para>
/// <para>Thread-safe: one lock serializes all access (a station writes a few parts per second).</para>
/// </summary>
public sealed class LiteDbInspectionStore : IInspectionStore, IOutboxQueue, ITelemetryStore
{
    private const int ExportPage = 500;

    private readonly StoreOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly Func<string, Stream>? _openStream;
    private readonly Lock _gate = new();
    private StoreParts _p;

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
        _time = time ?? TimeProvider.System;
        _log = (ILogger?)log ?? NullLogger.Instance;
        _openStream = openStream;
        var file = new StoreFile(options, _time, _log, openStream);
        try
        {
            _p = new StoreParts(file, options);
            if (file.MovedAsideTo is { } movedAside)
            {
                Salvage(movedAside, "database would not open");
                return;
            }
            _p.CountEvidenceIfMissing();
            _p.File.Checkpoint();
        }
        catch (Exception e) when (StoreFile.IsCorruption(e) && e is not ObjectDisposedException && file.MovedAsideTo is null)
        {
            // The file opened but its state or indexes do not read: the same recovery as a file that would not open.
            _p = null!;
            try { file.Dispose(); } catch (Exception d) when (StoreFile.IsCorruption(d)) { }
            var aside = StoreFile.MoveAside(options.Path, e, _time, _log);
            _p = new StoreParts(new StoreFile(options, _time, _log, openStream), options);
            Salvage(aside, "database state would not read");
        }
    }

    /// <summary>The data file.</summary>
    public string Path => _options.Path;

    /// <summary>The current file's store epoch: carried by every record stored in it (with the device and the sequence, the cloud's dedupe key).</summary>
    public string Epoch
    {
        get { lock (_gate) return _p.State.Epoch; }
    }

    /// <summary>Database files found corrupt and moved aside, ever, beside this path.</summary>
    public int RecoveredCorruptFiles
    {
        get { lock (_gate) return _p.File.RecoveredCorruptFiles; }
    }

    /// <summary>Recoveries from a corrupt file made by this instance (at open or after a failed read).</summary>
    public int Recoveries { get; private set; }

    /// <inheritdoc/>
    public event Action? Appended;

    /// <inheritdoc/>
    public long PendingCount => Read(p => p.Outbox.Count);

    /// <summary>Evicted records that were still waiting for the uplink, since the database was created.</summary>
    public long EvictedUnsent
    {
        get { lock (_gate) return _p.Budget.EvictedUnsent; }
    }

    /// <summary>Evictions by reason (<see cref="EvictionPolicy.ReasonNames"/>) since the database was created.</summary>
    public IReadOnlyDictionary<string, long> Evictions
    {
        get { lock (_gate) return _p.Budget.Evictions(); }
    }

    /// <summary>Fsync calls made by the data and log files so far (when they are <see cref="DurableFileStream"/>s).</summary>
    public long DiskFlushes
    {
        get { lock (_gate) return _p.File.DiskFlushes; }
    }

    /// <summary>Checkpoints (log copied into the data file) run by this instance's current file, at open included.</summary>
    public long Checkpoints
    {
        get { lock (_gate) return _p.File.Checkpoints; }
    }

    /// <summary>True when commits are made durable by waiting for LiteDB's log writer (one fsync) rather than a checkpoint.</summary>
    public bool FastDurableCommit
    {
        get { lock (_gate) return _p.File.FastDurableCommit; }
    }

    /// <inheritdoc/>
    public void Append(InspectionRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        AppendMany([record]);
    }

    /// <summary>
    /// Durably stores several records (ascending sequence numbers) in one transaction with one log fsync (group
    /// commit): all of them are on the disk when this returns, or, if it throws, none of them. Each record is stamped
    /// with the file's <see cref="Epoch"/>; the high-water mark and the gate's evidence counters move in the same transaction.
    /// </summary>
    public void AppendMany(IReadOnlyList<InspectionRecord> records)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0) return;
        for (var i = 0; i < records.Count; i++)
        {
            if (records[i] is null) throw new ArgumentException($"records[{i}] is null", nameof(records));
        }
        string? epoch;
        lock (_gate) epoch = _p.File.IsDisposed ? null : _p.State.Epoch;
        var prepared = Prepare(records, epoch);
        lock (_gate)
        {
            var p = _p;
            ObjectDisposedException.ThrowIf(p.File.IsDisposed, this);
            // A recovery between the two locks gave the file a new epoch: the records carry the one they are stored in.
            if (p.State.Epoch != epoch) prepared = Prepare(records, p.State.Epoch);
            p.State.ThrowIfNotAscending(prepared.Select(x => x.Record.Sequence));
            var mark = p.Budget.Mark();
            p.File.BeginTrans();
            try
            {
                foreach (var x in prepared)
                {
                    p.Budget.Add(p.Records.Insert(x));
                    p.Outbox.Enqueue(x.Record.Sequence);
                }
                p.State.Advance(prepared[^1].Record.Sequence, records);
                p.Budget.EvictIfOverBudget(keepSequence: p.State.LastSequence);
                p.Budget.Write();
                p.File.Commit();
            }
            catch
            {
                p.File.Rollback();
                p.State.Reload();
                p.Budget.Restore(mark);
                throw;
            }
            p.File.Durable();
        }
        Appended?.Invoke();
    }

    /// <inheritdoc/>
    public void AppendAudit(AuditEvent auditEvent)
    {
        ArgumentNullException.ThrowIfNull(auditEvent);
        lock (_gate) _p.Audit.Append(auditEvent);
    }

    /// <summary>Stores one telemetry snapshot (already serialized, camelCase JSON).</summary>
    public void AppendTelemetry(DateTimeOffset at, byte[] json)
    {
        lock (_gate) _p.Telemetry.Append(at, json);
    }

    /// <summary>Telemetry snapshots as stored JSON, optionally only those taken at or after <paramref name="since"/>.</summary>
    public IEnumerable<byte[]> TelemetrySnapshots(DateTimeOffset? since = null) => Read(p => p.Telemetry.Find(since).ToList());

    /// <inheritdoc/>
    public DeviceState LoadState()
    {
        lock (_gate) return _p.State.Load();
    }

    /// <inheritdoc/>
    public void SaveState(DeviceState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (_gate)
        {
            _p.State.Save(state);
            _p.File.Durable();
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
            var from = after;
            var page = Read(p => p.Records.Page(from, ExportPage));
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
    public IEnumerable<AuditEvent> AuditEvents(DateTimeOffset? since = null) => Read(p => p.Audit.Find(since).ToList());

    /// <inheritdoc/>
    public IReadOnlyList<OutboxItem> ReadBatch(long afterOffset, int max) => Read(p => p.Outbox.ReadBatch(afterOffset, max));

    /// <inheritdoc/>
    public IReadOnlyList<OutboxItem> ReadNewest(int max) => Read(p => p.Outbox.ReadNewest(max));

    /// <inheritdoc/>
    public void Remove(long offset)
    {
        lock (_gate) _p.Outbox.Remove(offset);
    }

    /// <inheritdoc/>
    public void RemoveMany(IReadOnlyCollection<long> offsets)
    {
        lock (_gate) _p.Outbox.RemoveMany(offsets);
    }

    /// <inheritdoc/>
    public void RemoveUpTo(long offset)
    {
        lock (_gate) _p.Outbox.RemoveUpTo(offset);
    }

    /// <summary>Counts and facts for <c>store stats</c> and telemetry, read under one lock.</summary>
    public StoreStatistics Statistics() => Read(p => new StoreStatistics(
        _options.Path,
        p.Records.Count,
        p.Outbox.Count,
        p.Budget.StoredBytes,
        _options.BudgetBytes,
        p.State.LastSequence,
        p.Records.OldestCapturedAt(),
        p.Records.NewestCapturedAt(),
        p.Budget.Evictions(),
        p.Budget.EvictedUnsent,
        p.Audit.Count,
        p.Telemetry.Count,
        p.File.RecoveredCorruptFiles,
        p.State.Epoch));

    /// <summary>Closes the database (checkpointing its log) and its files; a second call does nothing.</summary>
    public void Dispose()
    {
        lock (_gate) _p.Dispose();
    }

    /// <summary>
    /// Opens a consistent copy of a store that another process (the running service) holds: both files are copied to a
    /// temporary folder and opened there, so <c>store stats</c> / <c>store export</c> never write into the live files.
    /// Disposing the returned store deletes the copy.
    /// </summary>
    public static SnapshotStore OpenSnapshot(string path) => SnapshotReader.Open(path);

    /// <summary>The write-ahead log beside a data file: "&lt;name&gt;-log&lt;ext&gt;".</summary>
    public static string LogPath(string dataPath) => StoreFile.LogPath(dataPath);

    /// <summary>Corrupt database files moved aside beside the store at <paramref name="path"/> ("&lt;name&gt;.corrupt-*").</summary>
    public static int CountCorruptFiles(string path) => StoreFile.CountCorrupt(path);

    private PreparedRecord[] Prepare(IReadOnlyList<InspectionRecord> records, string? epoch)
    {
        var prepared = new PreparedRecord[records.Count];
        for (var i = 0; i < records.Count; i++)
        {
            records[i].StoreEpoch = epoch;
            prepared[i] = PreparedRecord.Create(records[i], _options.LowConfidence);
        }
        return prepared;
    }

    /// <summary>
    /// Runs a read under the lock; a read that finds the file corrupt recovers (move aside, salvage, fresh file) and
    /// is answered from the recovered file, so a damaged page never turns into a crash loop.
    /// </summary>
    private T Read<T>(Func<StoreParts, T> read)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_p.File.IsDisposed, this);
            try
            {
                return read(_p);
            }
            catch (Exception e) when (StoreFile.IsCorruption(e) && e is not ObjectDisposedException)
            {
                Recover(e);
                return read(_p);
            }
        }
    }

    private void Recover(Exception cause)
    {
        try { _p.Dispose(); } catch (Exception e) when (StoreFile.IsCorruption(e)) { /* the file is being moved aside */ }
        var aside = StoreFile.MoveAside(_options.Path, cause, _time, _log);
        _p = new StoreParts(new StoreFile(_options, _time, _log, _openStream), _options);
        Salvage(aside, "read failed: " + cause.Message);
    }

    private void Salvage(string movedAside, string why)
    {
        var salvaged = StoreSalvage.Read(movedAside);
        var unsent = _p.Import(salvaged);
        Recoveries++;
        var summary = salvaged.Summary(unsent);
        _log.LogError("Store {Path} recovered from {Aside}: {Summary}", _options.Path, movedAside, summary);
        _p.Audit.Append(new AuditEvent(_time.GetUtcNow(), "store.recovered", "store", "store", movedAside, _options.Path,
            $"{why}; moved aside; {summary}; new epoch {_p.State.Epoch}"));
    }
}
