using EdgeInspect.Storage.LiteDb;
using EdgeInspect.TestSupport;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EdgeInspect.Storage.Tests;

/// <summary>A store on a real file system that fills up (a small tmpfs), and the same store once space is freed.</summary>
public sealed class DiskFullTests
{
    private readonly DateTimeOffset _t0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);

    [TmpfsFact]
    public void Append_DiskFullThenSpaceFreed_RefusedWithoutDiskAccessThenWritableWithoutRestartNothingStoredLost()
    {
        using var tmpfs = new TmpfsMount(4 * 1024 * 1024);
        var time = new FakeTimeProvider(_t0);
        var options = new StoreOptions { Path = Path.Combine(tmpfs.Folder, "store.db") };
        var stored = new List<long>();
        long seq = 0;
        using (var store = new LiteDbInspectionStore(options, time))
        {
            for (; seq < 20; seq++) { store.Append(LiteDbInspectionStoreTests.Record(seq + 1, _t0)); stored.Add(seq + 1); }
            var filler = Path.Combine(tmpfs.Folder, "filler");
            TmpfsMount.Fill(filler);

            IOException? full = null;
            while (full is null && seq < 10_000)
            {
                seq++;
                try { store.Append(LiteDbInspectionStoreTests.Record(seq, _t0)); stored.Add(seq); }
                catch (IOException e) { full = e; }
            }
            Assert.NotNull(full);
            Assert.True(StoreFile.IsDiskFull(full), full.ToString());
            Assert.True(store.DiskFull);
            // Reads go on from the file as it is on disk.
            Assert.Equal(stored, store.Records().Select(r => r.Sequence));

            // Within the retry interval a write is refused at once, touching nothing.
            var refusedBefore = store.RefusedWrites;
            var refused = Assert.Throws<IOException>(() => store.Append(LiteDbInspectionStoreTests.Record(++seq, _t0)));
            Assert.Contains("disk full", refused.Message);
            Assert.Equal(refusedBefore + 1, store.RefusedWrites);

            File.Delete(filler);
            time.Advance(LiteDbInspectionStore.WriteRetryInterval);
            store.Append(LiteDbInspectionStoreTests.Record(++seq, _t0));
            stored.Add(seq);
            Assert.False(store.DiskFull);
            Assert.Equal(stored, store.Records().Select(r => r.Sequence));
            Assert.Contains(store.AuditEvents(), a => a.Kind == "store.writable");
        }
        using var reopened = new LiteDbInspectionStore(options, time);
        Assert.Equal(stored, reopened.Records().Select(r => r.Sequence));
        Assert.Equal(0, reopened.RecoveredCorruptFiles);
    }

    // A retry while the disk stays full: the reopen fits, the first page LiteDB's log writer writes after it does not (only
    // the log fails here). That case stopped a station's record stage for good: LiteDB 5.0.20's writer closed its engine
    // from its own thread and waited for itself (LogWriteFaultHolder keeps the error from that writer).
    [Fact]
    public async Task Append_FirstLogWriteAfterEachReopenFails_RefusedWithinSecondsNeverBlocksThenWritableNothingLost()
    {
        var dir = Directory.CreateTempSubdirectory("edgeinspect-fulllog-");
        try
        {
            var disk = new FillableDisk();
            var time = new FakeTimeProvider(_t0);
            var options = new StoreOptions { Path = Path.Combine(dir.FullName, "store.db") };
            var logPath = LiteDbInspectionStore.LogPath(options.Path);
            var stored = new List<long>();
            long seq = 0;
            // Not disposed in a finally: after a failed wait the blocked append still holds the store's lock.
            var store = new LiteDbInspectionStore(options, time, openStream: p => p == logPath ? new FillableFileStream(p, disk) : new FileStream(p, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite));
            for (; seq < 5; seq++) { store.Append(LiteDbInspectionStoreTests.Record(seq + 1, _t0)); stored.Add(seq + 1); }
            disk.Full = true;
            for (var retry = 0; retry < 5; retry++)
            {
                var next = ++seq;
                var append = Task.Run(() => store.Append(LiteDbInspectionStoreTests.Record(next, _t0)));
                Assert.True(await Task.WhenAny(append, Task.Delay(TimeSpan.FromSeconds(30))) == append,
                    $"append {next} (retry {retry}) still blocked after 30 s with the disk full");
                var refused = Assert.IsAssignableFrom<IOException>(append.Exception?.GetBaseException());
                Assert.True(StoreFile.IsDiskFull(refused), refused.ToString());
                time.Advance(LiteDbInspectionStore.WriteRetryInterval); // the next append opens the file again and writes
            }
            disk.Full = false;
            time.Advance(LiteDbInspectionStore.WriteRetryInterval);
            store.Append(LiteDbInspectionStoreTests.Record(++seq, _t0));
            stored.Add(seq);
            Assert.False(store.DiskFull);
            Assert.Equal(stored, store.Records().Select(r => r.Sequence));
            store.Dispose();
            using var reopened = new LiteDbInspectionStore(options, time);
            Assert.Equal(stored, reopened.Records().Select(r => r.Sequence));
            Assert.Equal(0, reopened.RecoveredCorruptFiles);
        }
        finally { dir.Delete(recursive: true); }
    }

    [TmpfsFact]
    public void Open_OnAFullDisk_RefusedOnlyAsDiskFullAndLeavesTheFileWhereItIs()
    {
        using var tmpfs = new TmpfsMount(2 * 1024 * 1024);
        var options = new StoreOptions { Path = Path.Combine(tmpfs.Folder, "store.db") };
        using (var store = new LiteDbInspectionStore(options))
        {
            for (long s = 1; s <= 10; s++) store.Append(LiteDbInspectionStoreTests.Record(s, _t0));
        }
        // The log is checkpointed on a clean close: fill what is left, then remove the file a new log would need.
        var filler = Path.Combine(tmpfs.Folder, "filler");
        TmpfsMount.Fill(filler);
        // The open may or may not need to write here; when it fails, it fails as a full disk, never as corruption.
        var opened = Record.Exception(() => new LiteDbInspectionStore(options).Dispose());
        if (opened is not null)
        {
            Assert.True(StoreFile.IsDiskFull(opened), opened.ToString());
        }
        Assert.True(File.Exists(options.Path), "a full disk is no reason to move the file aside");
        Assert.Equal(0, LiteDbInspectionStore.CountCorruptFiles(options.Path));
        File.Delete(filler);
        using var again = new LiteDbInspectionStore(options);
        Assert.Equal(10, again.Records().Count());
    }
}
