using System.Text.Json;
using EdgeInspect.Storage.LiteDb.Collections;
using LiteDB;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Storage.LiteDb;

/// <summary>
/// The LiteDB database file and its write-ahead log: opening them over <see cref="DurableFileStream"/>s, making commits
/// durable, checkpointing by size, moving a file that will not open aside, and closing.
/// <para>
/// Durability: LiteDB 5 writes a commit's pages to its log through a background writer thread, so <c>Commit()</c>
/// returns before the pages are even in the OS. <see cref="Durable"/> therefore waits for that writer
/// (<see cref="LogWriterWait"/>) and fsyncs the log once. On open LiteDB replays the confirmed transactions of the log,
/// so a commit followed by <see cref="Durable"/> survives a power cut. The log is copied into the data file (a
/// checkpoint, several fsyncs) only once it exceeds <see cref="StoreOptions.CheckpointLogBytes"/>, at open and at close.
/// </para>
/// <para>Not thread-safe: the store calls it under its one lock.</para>
/// </summary>
internal sealed class StoreFile : IDisposable
{
    private readonly StoreOptions _options;
    private readonly Stream _dataStream;
    private readonly Stream _logStream;
    private readonly LogWriteFaultHolder _logWrites;
    private readonly Action? _waitLogWriter;
    private long _checkpoints;

    /// <summary>Opens (or creates) the database at <see cref="StoreOptions.Path"/>; a file that will not open is moved aside and replaced by a fresh one.</summary>
    /// <param name="openStream">Opens one file of the database for read/write; null: a <see cref="DurableFileStream"/>.</param>
    public StoreFile(StoreOptions options, TimeProvider time, ILogger log, Func<string, Stream>? openStream)
    {
        _options = options;
        // The log fsyncs only when the store asks (Durable); the data file on every flush LiteDB's checkpoint makes.
        var open = openStream ?? (p => new DurableFileStream(p, FileMode.OpenOrCreate, syncOnFlush: p != LogPath(options.Path)));
        var dir = Path.GetDirectoryName(Path.GetFullPath(options.Path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);

        RecoveredCorruptFiles = CountCorrupt(options.Path);
        try
        {
            (_dataStream, _logStream, _logWrites, Database) = OpenAndVerify(open);
        }
        catch (Exception e) when (IsCorruption(e))
        {
            MovedAsideTo = MoveAside(options.Path, e, time, log);
            RecoveredCorruptFiles++;
            (_dataStream, _logStream, _logWrites, Database) = OpenAndVerify(open);
        }
        _waitLogWriter = LogWriterWait.TryCreate(Database);
        if (_waitLogWriter is null)
        {
            log.LogWarning("LiteDB internals differ from 5.0.20: every commit checkpoints (slower, still durable)");
        }
    }

    /// <summary>The open database.</summary>
    public LiteDatabase Database { get; }

    /// <summary>Database files found corrupt and moved aside, ever, beside this path (this open included).</summary>
    public int RecoveredCorruptFiles { get; }

    /// <summary>Where this open moved a corrupt file ("&lt;name&gt;.corrupt-&lt;UTC time&gt;"); null when the file opened.</summary>
    public string? MovedAsideTo { get; }

    /// <summary>True once <see cref="Dispose"/> ran.</summary>
    public bool IsDisposed { get; private set; }

    /// <summary>Fsync calls made by the data and log files so far (when they are <see cref="DurableFileStream"/>s).</summary>
    public long DiskFlushes => (_dataStream as DurableFileStream)?.DiskFlushes + (_logStream as DurableFileStream)?.DiskFlushes ?? 0;

    /// <summary>Checkpoints (log copied into the data file) run since open, the one at open included.</summary>
    public long Checkpoints => Interlocked.Read(ref _checkpoints);

    /// <summary>Bytes of the data file as the OS has it (LiteDB grows it only at a checkpoint).</summary>
    public long DataBytes
    {
        get { lock (_dataStream) return _dataStream.Length; }
    }

    /// <summary>Bytes of the write-ahead log (truncated by each checkpoint).</summary>
    public long LogBytes
    {
        get { lock (_logStream) return _logStream.Length; }
    }

    /// <summary>True when commits are made durable by waiting for LiteDB's log writer (one fsync) rather than a checkpoint.</summary>
    public bool FastDurableCommit => _waitLogWriter is not null;

    /// <summary>The write-ahead log beside a data file: "&lt;name&gt;-log&lt;ext&gt;".</summary>
    public static string LogPath(string dataPath) =>
        Path.Combine(Path.GetDirectoryName(dataPath) ?? "",
            Path.GetFileNameWithoutExtension(dataPath) + "-log" + Path.GetExtension(dataPath));

    /// <summary>Starts an explicit transaction.</summary>
    public void BeginTrans() => Database.BeginTrans();

    /// <summary>Commits the explicit transaction (not yet durable: see <see cref="Durable"/>).</summary>
    public void Commit() => Database.Commit();

    /// <summary>Rolls the explicit transaction back.</summary>
    public void Rollback() => Database.Rollback();

    /// <summary>Makes everything committed so far durable: about one fsync of the log. No transaction may be open.</summary>
    public void Durable()
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
        _logWrites.ThrowIfFaulted();
        if (_logStream is DurableFileStream durable) durable.Sync();
        else _logStream.Flush(); // an injected stream (tests): its Flush is its sync
        CheckpointIfLogLarge();
    }

    /// <summary>Checkpoints once the log has reached <see cref="StoreOptions.CheckpointLogBytes"/>.</summary>
    public void CheckpointIfLogLarge()
    {
        long length;
        lock (_logStream) length = _logStream.Length;
        if (length >= _options.EffectiveCheckpointLogBytes) Checkpoint();
    }

    /// <summary>Copies the log into the data file and truncates the log.</summary>
    public void Checkpoint()
    {
        _logWrites.ThrowIfFaulted(); // the log lacks pages LiteDB thinks it wrote: never copy it into the data file
        Database.Checkpoint();
        Interlocked.Increment(ref _checkpoints);
    }

    /// <summary>Closes the database (LiteDB checkpoints the log on a clean close) and its files; a second call does nothing.</summary>
    public void Dispose()
    {
        if (_logWrites.Fault is not null)
        {
            Abandon();
            return;
        }
        if (IsDisposed) return;
        IsDisposed = true;
        try
        {
            Database.Dispose();
        }
        finally
        {
            _dataStream.Dispose();
            _logStream.Dispose();
        }
    }

    /// <summary>
    /// Closes after a failed write (a full disk): the files are closed first, so LiteDB's closing checkpoint cannot
    /// copy pages from a log whose last writes failed into the data file; the next open replays only the transactions
    /// the log holds in full. Errors while closing are expected and ignored.
    /// </summary>
    public void Abandon()
    {
        if (IsDisposed) return;
        IsDisposed = true;
        try { _logStream.Dispose(); } catch (IOException) { /* its buffer could not be written: those pages were never confirmed */ }
        try { _dataStream.Dispose(); } catch (IOException) { }
        try { Database.Dispose(); } catch (Exception e) when (e is LiteException or IOException or ObjectDisposedException or InvalidOperationException or AggregateException) { }
    }

    private (Stream Data, Stream Log, LogWriteFaultHolder LogWrites, LiteDatabase Db) OpenAndVerify(Func<string, Stream> open)
    {
        var data = open(_options.Path);
        Stream? log = null;
        LiteDatabase? db = null;
        try
        {
            log = open(LogPath(_options.Path));
            var logWrites = new LogWriteFaultHolder(log);
            db = new LiteDatabase(data, null, logWrites) { CheckpointSize = 0 };
            StoreSchema.Verify(db);
            return (data, log, logWrites, db);
        }
        catch
        {
            try { db?.Dispose(); } catch (Exception e) when (e is LiteException or IOException or InvalidOperationException) { }
            data.Dispose();
            log?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// True for what LiteDB throws on a torn or overwritten file: its own errors and the runtime errors its page and
    /// BSON readers raise on garbage (bad casts, out-of-range lengths and dates, undecodable strings). A full disk
    /// (<see cref="IsDiskFull"/>) is not corruption: the file stays where it is and is written again once space returns.
    /// </summary>
    public static bool IsCorruption(Exception e) => !IsDiskFull(e) &&
        e is LiteException or InvalidCastException or IOException or InvalidOperationException or ArgumentException
            or IndexOutOfRangeException or JsonException or NullReferenceException or OverflowException or InvalidDataException
            or NotImplementedException or NotSupportedException or KeyNotFoundException or FormatException;

    /// <summary>
    /// True when <paramref name="e"/> (or an exception inside it) is the file system saying it is full (ENOSPC, EDQUOT):
    /// the files are sound, only no byte more fits, so it is never a reason to move the file aside.
    /// </summary>
    public static bool IsDiskFull(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            // .NET on Unix puts the errno into HResult (28 ENOSPC, 122 EDQUOT); on Windows ERROR_DISK_FULL / ERROR_HANDLE_DISK_FULL.
            if (e is IOException io && (io.HResult is 28 or 122 or unchecked((int)0x80070070) or unchecked((int)0x80070027)
                || io.Message.Contains("No space left on device", StringComparison.Ordinal)
                || io.Message.Contains("Disk quota exceeded", StringComparison.Ordinal))) return true;
            if (e is AggregateException { InnerExceptions.Count: > 0 } a) return a.InnerExceptions.Any(IsDiskFull);
        }
        return false;
    }

    /// <summary>
    /// Renames the data file (and its log) to "&lt;name&gt;.corrupt-&lt;UTC time&gt;" (and "...-log"); returns the new name.
    /// The database must be closed.
    /// </summary>
    public static string MoveAside(string path, Exception cause, TimeProvider time, ILogger log)
    {
        var stamp = time.GetUtcNow().ToString("yyyyMMdd'T'HHmmssfff'Z'", System.Globalization.CultureInfo.InvariantCulture);
        var target = $"{path}.corrupt-{stamp}";
        // Two recoveries within one millisecond (or under a fake clock) must not collide.
        for (var n = 1; File.Exists(target); n++) target = $"{path}.corrupt-{stamp}-{n}";
        File.Move(path, target);
        var logFile = LogPath(path);
        if (File.Exists(logFile)) File.Move(logFile, target + "-log");
        log.LogError("Store {Path} is corrupt ({Error}); moved aside to {Target}, salvaging what it still holds into a fresh database",
            path, cause.Message, target);
        return target;
    }

    /// <summary>Corrupt database files moved aside beside <paramref name="path"/> ("&lt;name&gt;.corrupt-*", logs not counted).</summary>
    public static int CountCorrupt(string path)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(dir)) return 0;
        return Directory.GetFiles(dir, Path.GetFileName(path) + ".corrupt-*").Count(f => !f.EndsWith("-log", StringComparison.Ordinal));
    }
}
