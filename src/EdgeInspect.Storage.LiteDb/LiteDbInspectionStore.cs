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
/// <para>
/// Disk budget: <see cref="StoreOptions.BudgetBytes"/> bounds the data file, its log and the model spool as measured
/// on disk (<see cref="DiskBudget"/>); a record evicted before it was sent is counted and raises an alarm (a log error
/// and a "store.evicted-unsent" audit event).
/// </para>
/// <para>
/// Disk full: a write that fails for lack of space (<see cref="StoreFile.IsDiskFull"/>) throws, nothing it wrote counts,
/// and the file is closed without a checkpoint and opened again, so reads go on and nothing already stored is lost.
/// While the disk stays full a write is refused at once without touching the disk, and tried again every
/// <see cref="WriteRetryInterval"/>; the first write that succeeds ends the fault ("store.writable" audit event). No
/// restart is needed.
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
    private readonly DiskUsage _usage;
    private StoreParts _p;
    private bool _closed;
    private Exception? _writeFault;
    private DateTimeOffset _writeFaultAt;
    private long _refusedWrites;

    /// <summary>While the disk is full, how often a write tries the disk again (between tries it is refused at once).</summary>
    public static readonly TimeSpan WriteRetryInterval = TimeSpan.FromSeconds(1);

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
        _usage = new DiskUsage(options.SpoolFolder, _time, options.ImageFolder);
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

    /// <summary>True while writes fail for lack of disk space (until the first write that succeeds).</summary>
    public bool DiskFull
    {
        get { lock (_gate) return _writeFault is not null; }
    }

    /// <summary>Writes refused or failed for lack of disk space by this instance.</summary>
    public long RefusedWrites
    {
        get { lock (_gate) return _refusedWrites; }
    }

    /// <inheritdoc/>
    public event Action? Appended;

    /// <inheritdoc/>
    public long PendingCount => Read(p => p.Outbox.Count);

    /// <inheritdoc/>
    public long ParkedCount => Read(p => p.Outbox.ParkedCount);

    /// <summary>Parked outbox items, oldest first, with the reason each was parked (<c>store stats</c>).</summary>
    public IReadOnlyList<(long Sequence, string Reason)> ParkedItems() => Read(p => p.Outbox.Parked());

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
            ObjectDisposedException.ThrowIf(_closed, this);
            // Checked before any write, so a caller's mistake is never taken for a damaged file.
            _p.State.ThrowIfNotAscending(prepared.Select(x => x.Record.Sequence));
            try
            {
                AppendLocked(records, prepared);
            }
            catch (Exception e) when (StoreFile.IsCorruption(e) && e is not ObjectDisposedException && !_p.File.IsDisposed)
            {
                // A damaged page found while writing: the salvage a read takes, then the records go into the fresh file.
                Recover(e);
                AppendLocked(records, prepared);
            }
        }
        Appended?.Invoke();
    }

    private void AppendLocked(IReadOnlyList<InspectionRecord> records, PreparedRecord[] prepared)
    {
        var p = Writable();
        // A recovery since the records were prepared gave the file a new epoch: they carry the one they are stored in.
        if (prepared[0].Record.StoreEpoch != p.State.Epoch) prepared = Prepare(records, p.State.Epoch);
        long evictedUnsent;
        try
        {
            var disk = BudgetedDisk(p);
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
                evictedUnsent = p.Budget.EvictIfOverBudget(keepSequence: p.State.LastSequence, disk);
                p.Budget.Write();
                p.File.Commit();
            }
            catch
            {
                try { p.File.Rollback(); } catch (Exception r) when (StoreFile.IsDiskFull(r)) { /* abandoned below */ }
                p.State.Reload();
                p.Budget.Restore(mark);
                throw;
            }
            p.File.Durable();
        }
        catch (Exception e) when (StoreFile.IsDiskFull(e))
        {
            throw WriteFailed(e);
        }
        WriteSucceeded();
        if (evictedUnsent > 0) AlarmEvictedUnsent(p, evictedUnsent);
    }

    /// <summary>
    /// The store's bytes on disk for the budget: over it, a checkpoint first (the log is the part that shrinks), then
    /// the data file's density is learned when the file itself has outgrown its share.
    /// </summary>
    private DiskBytes BudgetedDisk(StoreParts p)
    {
        if (_options.BudgetBytes <= 0) return default;
        var disk = _usage.Measure(p.File);
        p.Budget.RecordedSpoolBytes = disk.Spool;
        // The log is truncated by a checkpoint; a log of a few pages is not worth the checkpoint's fsyncs.
        if (disk.Total > _options.BudgetBytes && disk.Log >= MinCheckpointLogBytes)
        {
            p.File.Checkpoint();
            disk = _usage.Measure(p.File);
        }
        if (p.Budget.Learn(disk))
        {
            _log.LogWarning("Store {Path}: data file {Data} B, log {Log} B, spool {Spool} B against a budget of {Budget} B: " +
                "records are kept to {Limit} B from now on (evicting by policy, unsent last)",
                _options.Path, disk.Data, disk.Log, disk.Spool, _options.BudgetBytes, p.Budget.ContentLimit(disk));
        }
        return disk;
    }

    private const long MinCheckpointLogBytes = 64 * 1024;

    private void AlarmEvictedUnsent(StoreParts p, long evicted)
    {
        _log.LogError("Store {Path}: the disk budget evicted {Evicted} records that had not reached the cloud ({Total} so far): " +
            "no sent record was left to evict; the uplink is behind the budget", _options.Path, evicted, p.Budget.EvictedUnsent);
        try
        {
            p.Audit.Append(new AuditEvent(_time.GetUtcNow(), "store.evicted-unsent", "store", "store", null, null,
                $"{evicted} unsent records evicted by the disk budget ({p.Budget.EvictedUnsent} since the file was created)"));
        }
        catch (Exception e) when (StoreFile.IsDiskFull(e)) { WriteFailed(e); }
    }

    /// <summary>
    /// The open parts for a write: while the disk is full a write within <see cref="WriteRetryInterval"/> of the last
    /// failure is refused at once (no disk access, no log line); after it, the file is opened again if it was abandoned.
    /// </summary>
    private StoreParts Writable()
    {
        ObjectDisposedException.ThrowIf(_closed, this);
        if (_writeFault is { } fault)
        {
            var since = _time.GetUtcNow() - _writeFaultAt;
            if (since < WriteRetryInterval)
            {
                _refusedWrites++;
                throw new IOException($"store not writable: disk full ({fault.Message}); next try in {(WriteRetryInterval - since).TotalMilliseconds:0} ms", fault);
            }
        }
        if (_p.File.IsDisposed) Reopen();
        return _p;
    }

    /// <summary>Records a write that failed for lack of space: counted, logged once per fault, the file abandoned and opened again.</summary>
    private IOException WriteFailed(Exception e)
    {
        _refusedWrites++;
        if (_writeFault is null)
        {
            _log.LogError("Store {Path}: disk full ({Error}); writes are refused and tried again every {Interval} s until space returns",
                _options.Path, e.Message, WriteRetryInterval.TotalSeconds);
        }
        _writeFault = e;
        _writeFaultAt = _time.GetUtcNow();
        _p.File.Abandon();
        try { Reopen(); }
        catch (IOException) { /* not even an open fits: the next access tries again */ }
        return e as IOException ?? new IOException("store not writable: disk full: " + e.Message, e);
    }

    private void WriteSucceeded()
    {
        if (_writeFault is not { } fault) return;
        var refused = _refusedWrites;
        _writeFault = null;
        _log.LogWarning("Store {Path}: writable again; {Refused} writes were refused while the disk was full", _options.Path, refused);
        try
        {
            _p.Audit.Append(new AuditEvent(_time.GetUtcNow(), "store.writable", "store", "store", null, null,
                $"disk full since {_writeFaultAt:O} ({fault.Message}); {refused} writes refused"));
        }
        catch (Exception e) when (StoreFile.IsDiskFull(e)) { WriteFailed(e); }
    }

    /// <summary>Opens the file again after <see cref="StoreFile.Abandon"/>: LiteDB replays the transactions its log holds in full.</summary>
    private void Reopen()
    {
        var file = new StoreFile(_options, _time, _log, _openStream);
        _p = new StoreParts(file, _options);
        if (file.MovedAsideTo is { } aside) Salvage(aside, "database would not open after a full disk");
    }

    /// <summary>Runs a write under the lock with the disk-full handling of <see cref="AppendMany"/>.</summary>
    private void Write(Action<StoreParts> write)
    {
        lock (_gate)
        {
            var p = Writable();
            try { write(p); }
            catch (Exception e) when (StoreFile.IsDiskFull(e)) { throw WriteFailed(e); }
            WriteSucceeded();
        }
    }


    /// <inheritdoc/>
    public void AppendAudit(AuditEvent auditEvent)
    {
        ArgumentNullException.ThrowIfNull(auditEvent);
        Write(p => p.Audit.Append(auditEvent));
    }

    /// <summary>Stores one telemetry snapshot (already serialized, camelCase JSON).</summary>
    public void AppendTelemetry(DateTimeOffset at, byte[] json)
    {
        Write(p => p.Telemetry.Append(at, json));
    }

    /// <summary>Telemetry snapshots as stored JSON, optionally only those taken at or after <paramref name="since"/>.</summary>
    public IEnumerable<byte[]> TelemetrySnapshots(DateTimeOffset? since = null) => Read(p => p.Telemetry.Find(since).ToList());

    /// <inheritdoc/>
    public DeviceState LoadState()
    {
        return Read(p => p.State.Load());
    }

    /// <inheritdoc/>
    public void SaveState(DeviceState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        Write(p =>
        {
            p.State.Save(state);
            p.File.Durable();
        });
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
        Write(p => p.Outbox.Remove(offset));
    }

    /// <inheritdoc/>
    public bool Park(long offset, string reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        var parked = false;
        Write(p => parked = p.Outbox.Park(offset, reason));
        return parked;
    }

    /// <inheritdoc/>
    public int UnparkAll()
    {
        var unparked = 0;
        Write(p => unparked = p.Outbox.UnparkAll());
        return unparked;
    }

    /// <inheritdoc/>
    public void RemoveMany(IReadOnlyCollection<long> offsets)
    {
        Write(p => p.Outbox.RemoveMany(offsets));
    }

    /// <inheritdoc/>
    public void RemoveUpTo(long offset)
    {
        Write(p => p.Outbox.RemoveUpTo(offset));
    }

    /// <summary>Counts and facts for <c>store stats</c> and telemetry, read under one lock.</summary>
    public StoreStatistics Statistics() => Read(p => new StoreStatistics(
        _options.Path,
        p.Records.Count,
        p.Outbox.Count,
        p.Budget.StoredBytes,
        _options.BudgetBytes > 0 ? _options.BudgetBytes : p.Budget.RecordedBudgetBytes,
        p.State.LastSequence,
        p.Records.OldestCapturedAt(),
        p.Records.NewestCapturedAt(),
        p.Budget.Evictions(),
        p.Budget.EvictedUnsent,
        p.Audit.Count,
        p.Telemetry.Count,
        p.File.RecoveredCorruptFiles,
        p.State.Epoch)
    {
        DataFileBytes = p.File.DataBytes,
        LogFileBytes = p.File.LogBytes,
        SpoolBytes = _options.SpoolFolder is null && _options.ImageFolder is null ? p.Budget.RecordedSpoolBytes : _usage.SpoolBytes(),
        DiskFull = _writeFault is not null,
        RefusedWrites = _refusedWrites,
        ParkedUplink = p.Outbox.ParkedCount,
    });

    /// <summary>Closes the database (checkpointing its log) and its files; a second call does nothing.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _closed = true;
            // After a failed write the file is closed without a checkpoint (StoreFile.Abandon); a clean close otherwise.
            if (_writeFault is not null) _p.File.Abandon();
            else _p.Dispose();
        }
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
            ObjectDisposedException.ThrowIf(_closed, this);
            if (_p.File.IsDisposed) Reopen(); // abandoned after a full disk; a read needs no free space
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
