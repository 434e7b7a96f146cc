using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Storage.Tests;

public sealed class LiteDbInspectionStoreTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-store-").FullName;
    private readonly DateTimeOffset _t0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private string DbPath => Path.Combine(_dir, "store.db");

    internal static InspectionRecord Record(long seq, DateTimeOffset at, Verdict verdict = Verdict.Ok, Verdict? human = null, float confidence = 0.95f) => new()
    {
        DeviceId = "dev-1",
        Station = "st-1",
        Sequence = seq,
        PartId = "P" + seq,
        CapturedAt = at,
        DecidedAt = at.AddMilliseconds(30),
        Mode = AutomationMode.Shadow,
        Verdict = verdict,
        VerdictSource = VerdictSource.Human,
        ModelVerdict = verdict,
        ModelConfidence = confidence,
        HumanVerdict = human ?? verdict,
        LatencyMs = new Dictionary<string, double> { ["total"] = 12.5 },
    };

    [Fact]
    public void Append_ThenReopen_RecordStateAndSequenceSurvive()
    {
        using (var store = new LiteDbInspectionStore(new StoreOptions { Path = DbPath }))
        {
            var flushesBefore = store.DiskFlushes;
            store.Append(Record(1, _t0));
            Assert.True(store.DiskFlushes > flushesBefore, "Append must fsync before it returns");
            var afterFirst = store.DiskFlushes;
            store.Append(Record(2, _t0.AddSeconds(1), Verdict.Ng));
            Assert.True(store.DiskFlushes > afterFirst, "every Append fsyncs");
            var state = store.LoadState();
            state.Mode = AutomationMode.Partial;
            state.ActiveSlot = "b";
            state.LastSequence = 0; // a stale copy must not lower the high-water mark
            store.SaveState(state);
        }
        using var reopened = new LiteDbInspectionStore(new StoreOptions { Path = DbPath });
        var records = reopened.Records().ToList();
        Assert.Equal([1L, 2L], records.Select(r => r.Sequence));
        Assert.Equal(Verdict.Ng, records[1].Verdict);
        Assert.Equal(12.5, records[0].LatencyMs["total"]);
        var s = reopened.LoadState();
        Assert.Equal(2, s.LastSequence);
        Assert.Equal(AutomationMode.Partial, s.Mode);
        Assert.Equal("b", s.ActiveSlot);
        Assert.Equal(2, reopened.PendingCount);
    }

    [Fact]
    public void Append_SequenceNotAboveHighWater_ThrowsAndStoresNothing()
    {
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = DbPath });
        store.Append(Record(5, _t0));
        var e = Assert.Throws<InvalidOperationException>(() => store.Append(Record(5, _t0)));
        Assert.Contains("never reused", e.Message);
        Assert.Single(store.Records());
    }

    [Fact]
    public void Open_FileIsNotADatabase_MovedAsideCountedAndFreshStoreWorks()
    {
        File.WriteAllBytes(DbPath, Enumerable.Range(0, 20000).Select(i => (byte)(i * 31)).ToArray());
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = DbPath });
        Assert.Equal(1, store.RecoveredCorruptFiles);
        Assert.Single(Directory.GetFiles(_dir, "store.db.corrupt-*"), f => !f.EndsWith("-log", StringComparison.Ordinal));
        var audit = Assert.Single(store.AuditEvents());
        Assert.Equal("store.recovered", audit.Kind);
        store.Append(Record(1, _t0));
        Assert.Single(store.Records());
        Assert.Equal(1, store.Statistics().RecoveredCorruptFiles);
    }

    [Fact]
    [Trait(TestCategories.Name, TestCategories.Slow)]
    public void Append_PastBudget_EvictsAgreedOkFirstThenOlderNgAndKeepsDisagreements()
    {
        var options = new StoreOptions { Path = DbPath, BudgetBytes = StoreOptions.MinBudgetBytes, LowConfidence = 0.7 };
        using var store = new LiteDbInspectionStore(options);
        const int parts = 3000;
        long seq = 0;
        var disagreements = new List<long>();
        var lowConfidence = new List<long>();
        var ng = new List<long>();
        // 1 in 20 a disagreement, 1 in 20 low confidence, 4 in 20 NG, the rest agreed OK. The parts that are always
        // kept (300 of them, about 140 KB) fill well under half of what a 1 MiB file holds after LiteDB's page and
        // index overhead (measured: 370 KB of records), so the order of eviction is what is tested, not the capacity.
        for (var i = 0; i < parts; i++)
        {
            seq++;
            var kind = i % 20;
            var r = kind switch
            {
                0 => Record(seq, _t0.AddSeconds(i), Verdict.Ok, human: Verdict.Ng),
                1 => Record(seq, _t0.AddSeconds(i), Verdict.Ok, confidence: 0.4f),
                >= 2 and <= 5 => Record(seq, _t0.AddSeconds(i), Verdict.Ng),
                _ => Record(seq, _t0.AddSeconds(i)),
            };
            (kind == 0 ? disagreements : kind == 1 ? lowConfidence : kind is >= 2 and <= 5 ? ng : null)?.Add(seq);
            store.Append(r);
        }
        var stats = store.Statistics();
        Assert.True(stats.StoredBytes <= options.BudgetBytes, $"stored {stats.StoredBytes} > budget");
        Assert.True(stats.Evictions["agreedOk"] > 0);
        var kept = store.Records().Select(r => r.Sequence).ToHashSet();
        // every disagreement and low-confidence part survives while OK / NG parts are available to evict
        Assert.All(disagreements, s => Assert.Contains(s, kept));
        Assert.All(lowConfidence, s => Assert.Contains(s, kept));
        if (stats.Evictions["ng"] > 0)
        {
            // NG parts go only after all agreed OK ones (but the newest), and the older ones first
            var keptNg = ng.Where(kept.Contains).ToList();
            Assert.All(ng.Except(keptNg), evicted => Assert.All(keptNg, k => Assert.True(evicted < k)));
        }
        var evictedTotal = stats.Evictions.Values.Sum();
        Assert.Equal(parts - kept.Count, evictedTotal);
        Assert.Equal(0, stats.Evictions["disagreementOrLowConfidence"]);
    }

    [Fact]
    public void Outbox_ReadBatchAndRemove_OldestFirstAndNewestShare()
    {
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = DbPath });
        for (var i = 1; i <= 10; i++) store.Append(Record(i, _t0.AddSeconds(i)));
        IOutboxQueue q = store;
        Assert.Equal([1L, 2L, 3L], q.ReadBatch(long.MinValue, 3).Select(x => x.Offset));
        Assert.Equal([9L, 10L], q.ReadNewest(2).Select(x => x.Offset));
        q.RemoveMany([1, 2]);
        q.RemoveUpTo(4);
        q.Remove(10);
        Assert.Equal([5L, 6L, 7L, 8L, 9L], q.ReadBatch(long.MinValue, 100).Select(x => x.Offset));
        var json = System.Text.Encoding.UTF8.GetString(q.ReadBatch(4, 1)[0].Payload);
        Assert.Contains("\"deviceId\":\"dev-1\"", json);
        Assert.Contains("\"sequence\":5", json);
        Assert.Equal(10, store.Records().Count()); // the record itself stays in the store
    }

    [Fact]
    public void OpenSnapshot_WhileStoreIsOpen_ReadsRecordsWithoutTouchingLiveFile()
    {
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = DbPath });
        for (var i = 1; i <= 3; i++) store.Append(Record(i, _t0.AddHours(i)));
        using var snap = LiteDbInspectionStore.OpenSnapshot(DbPath);
        Assert.Equal(3, snap.Store.Statistics().Records);
        Assert.Equal([2L, 3L], snap.Store.Records(_t0.AddHours(2)).Select(r => r.Sequence));
        store.Append(Record(4, _t0.AddHours(4)));
        Assert.Equal(4, store.Records().Count());
    }
    [Fact]
    public void Append_FastPath_AboutOneFsyncPerRecordAndNoCheckpoint()
    {
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = DbPath });
        Assert.True(store.FastDurableCommit, "LiteDB's log writer wait was not found: every commit would checkpoint");
        var flushes = store.DiskFlushes;
        var checkpoints = store.Checkpoints;
        for (var i = 1; i <= 50; i++)
        {
            var before = store.DiskFlushes;
            store.Append(Record(i, _t0.AddSeconds(i)));
            Assert.True(store.DiskFlushes > before, $"append {i} returned without an fsync");
        }
        // one fsync of the log per append; the writer's own fsync may add one when it runs after ours
        Assert.InRange(store.DiskFlushes - flushes, 50, 100);
        Assert.Equal(checkpoints, store.Checkpoints);
    }

    [Fact]
    public void AppendMany_OneCommit_AllStoredWithOneFsyncAndSequenceChecked()
    {
        using (var store = new LiteDbInspectionStore(new StoreOptions { Path = DbPath }))
        {
            var before = store.DiskFlushes;
            store.AppendMany([.. Enumerable.Range(1, 20).Select(i => Record(i, _t0.AddSeconds(i)))]);
            Assert.InRange(store.DiskFlushes - before, 1, 2);
            Assert.Throws<InvalidOperationException>(() => store.AppendMany([Record(21, _t0), Record(21, _t0)]));
            Assert.Equal(20, store.LoadState().LastSequence);
        }
        using var reopened = new LiteDbInspectionStore(new StoreOptions { Path = DbPath });
        Assert.Equal(Enumerable.Range(1, 20).Select(i => (long)i), reopened.Records().Select(r => r.Sequence));
        Assert.Equal(20, reopened.PendingCount);
    }

    [Fact]
    public void Append_LogPastCheckpointSize_CheckpointsAndReopens()
    {
        var options = new StoreOptions { Path = DbPath, CheckpointLogBytes = 64 * 1024 };
        using (var store = new LiteDbInspectionStore(options))
        {
            var at = store.Checkpoints;
            for (var i = 1; i <= 60; i++) store.Append(Record(i, _t0.AddSeconds(i)));
            Assert.True(store.Checkpoints > at, "a 64 KiB log limit must have checkpointed within 60 appends");
        }
        using var reopened = new LiteDbInspectionStore(options);
        Assert.Equal(60, reopened.Records().Count());
    }

    /// <summary>
    /// Power loss, simulated: each file is a memory stream whose bytes count as "on disk" only as of its last
    /// Flush(); the disk images are taken right when Append returns (nothing later, not even LiteDB's background
    /// writer, may add to them), written to real files and opened. Every appended record must be there.
    /// </summary>
    [Fact]
    public void Append_PowerLossRightAfterReturn_OnlyFlushedBytesSurviveAndEveryRecordIsThere()
    {
        var streams = new Dictionary<string, PowerLossStream>();
        var store = new LiteDbInspectionStore(new StoreOptions { Path = DbPath },
            openStream: path => streams[path] = new PowerLossStream());
        var random = new Random(7);
        var cut = random.Next(5, 40);
        Dictionary<string, byte[]> images = [];
        for (var i = 1; i <= cut; i++)
        {
            store.Append(Record(i, _t0.AddSeconds(i), i % 3 == 0 ? Verdict.Ng : Verdict.Ok));
            images = streams.ToDictionary(kv => kv.Key, kv => kv.Value.DiskImage());
        }
        var powerCut = Path.Combine(_dir, "cut");
        Directory.CreateDirectory(powerCut);
        foreach (var (path, bytes) in images) File.WriteAllBytes(Path.Combine(powerCut, Path.GetFileName(path)), bytes);
        using var reopened = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(powerCut, "store.db") });
        Assert.Equal(0, reopened.RecoveredCorruptFiles);
        Assert.Equal(Enumerable.Range(1, cut).Select(i => (long)i), reopened.Records().Select(r => r.Sequence));
        Assert.Equal(cut, reopened.LoadState().LastSequence);
        GC.KeepAlive(store); // never disposed: a power cut does not close the database
    }
}
