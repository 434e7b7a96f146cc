using EdgeInspect.Core.Domain;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Storage.Tests;

/// <summary>The disk budget against the real files: data file, log and spool folder as the OS reports them.</summary>
public sealed class DiskBudgetOnDiskTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-budget-").FullName;
    private readonly DateTimeOffset _t0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private string DbPath => Path.Combine(_dir, "store.db");

    private long BytesOnDisk(string spool) =>
        new FileInfo(DbPath).Length + (File.Exists(LiteDbInspectionStore.LogPath(DbPath)) ? new FileInfo(LiteDbInspectionStore.LogPath(DbPath)).Length : 0)
        + Directory.EnumerateFiles(spool, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);

    [Fact]
    [Trait(TestCategories.Name, TestCategories.Slow)]
    public void Append_ManyTimesTheBudget_DataLogAndSpoolOnDiskStayWithinIt()
    {
        var spool = Directory.CreateDirectory(Path.Combine(_dir, "spool", "pkg-1", "chunks")).FullName;
        File.WriteAllBytes(Path.Combine(spool, "0"), new byte[256 * 1024]); // a partly received model package
        var options = new StoreOptions { Path = DbPath, BudgetBytes = StoreOptions.MinBudgetBytes + 512 * 1024, SpoolFolder = Path.Combine(_dir, "spool") };
        long worst = 0, seq = 0;
        using (var store = new LiteDbInspectionStore(options))
        {
            // About four times the budget in record JSON, in groups as the record stage commits them; the uplink keeps up.
            for (var group = 0; group < 500; group++)
            {
                var records = Enumerable.Range(0, 8).Select(_ => { seq++; return LiteDbInspectionStoreTests.Record(seq, _t0.AddSeconds(seq)); }).ToList();
                store.AppendMany(records);
                store.RemoveUpTo(seq - 8);
                worst = Math.Max(worst, BytesOnDisk(Path.Combine(_dir, "spool")));
            }
            var stats = store.Statistics();
            Assert.True(stats.Evictions["agreedOk"] > 0, "the budget must have evicted");
            Assert.Equal(0, stats.EvictedUnsent);
            Assert.Equal(seq, store.Records().Last().Sequence);
        }
        // A group commit's pages may land before the next append measures them: one group of slack.
        Assert.True(worst <= options.BudgetBytes + 64 * 1024, $"{worst} B on disk against a budget of {options.BudgetBytes} B");
    }

    [Fact]
    [Trait(TestCategories.Name, TestCategories.Slow)]
    public void Append_UplinkDownPastTheBudget_UnsentEvictedOnlyWhenNoSentRecordIsLeftCountedAndAlarmed()
    {
        var options = new StoreOptions { Path = DbPath, BudgetBytes = StoreOptions.MinBudgetBytes };
        using var store = new LiteDbInspectionStore(options);
        long seq = 0;
        // The uplink delivered the first 600 records, then went down.
        for (; seq < 600; seq++) store.Append(LiteDbInspectionStoreTests.Record(seq + 1, _t0.AddSeconds(seq)));
        store.RemoveUpTo(600);
        while (store.EvictedUnsent == 0 && seq < 20_000)
        {
            seq++;
            store.Append(LiteDbInspectionStoreTests.Record(seq, _t0.AddSeconds(seq)));
        }
        Assert.True(store.EvictedUnsent > 0, "the budget never needed an unsent record");
        // Age alone would have evicted the oldest unsent records while sent ones remained; none of the sent ones is left.
        Assert.DoesNotContain(store.Records(), r => r.Sequence <= 600);
        Assert.Contains(store.Records(), r => r.Sequence == seq);
        var stats = store.Statistics();
        Assert.Equal(store.EvictedUnsent, stats.EvictedUnsent);
        var alarm = Assert.Single(store.AuditEvents(), a => a.Kind == "store.evicted-unsent");
        Assert.Contains($"{store.EvictedUnsent} unsent records evicted", alarm.Reason ?? "");
    }
}
