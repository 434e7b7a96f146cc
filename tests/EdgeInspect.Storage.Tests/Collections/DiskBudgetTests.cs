using EdgeInspect.Storage.LiteDb;
using EdgeInspect.Storage.LiteDb.Collections;
using Xunit;

namespace EdgeInspect.Storage.Tests.Collections;

public sealed class DiskBudgetTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);

    private static PreparedRecord Prepared(long seq) => PreparedRecord.Create(LiteDbInspectionStoreTests.Record(seq, T0), lowConfidence: 0.7);

    private static DiskBytes Disk(StoreHarness h) => new(h.File.DataBytes, h.File.LogBytes, 0);

    [Fact]
    public void EvictIfOverBudget_PastBudget_DownToLowWaterKeepingTheNewestAndCounting()
    {
        using var h = new StoreHarness(budgetBytes: StoreOptions.MinBudgetBytes);
        var n = 0;
        while (h.Budget.StoredBytes <= h.Budget.ContentLimit(default)) h.Store(Prepared(++n));
        h.Outbox.Remove(1); // sent: its eviction is not "unsent"
        h.File.BeginTrans();
        var unsent = h.Budget.EvictIfOverBudget(keepSequence: n, default);
        h.File.Commit();
        Assert.True(h.Budget.StoredBytes <= (long)(h.Budget.ContentLimit(default) * h.Options.LowWaterFraction));
        var evicted = h.Budget.Evictions()["agreedOk"];
        Assert.Equal(n - h.Records.Count, evicted);
        Assert.Equal(evicted - 1, h.Budget.EvictedUnsent);
        Assert.Equal(evicted - 1, unsent);
        Assert.NotNull(h.Records.FindJson(n));
    }

    [Fact]
    public void EvictIfOverBudget_SomeSent_EvictsEverySentRecordBeforeAnyUnsent()
    {
        using var h = new StoreHarness(budgetBytes: StoreOptions.MinBudgetBytes);
        var n = 0;
        while (h.Budget.StoredBytes <= h.Budget.ContentLimit(default)) h.Store(Prepared(++n));
        // The newest third was sent (acknowledged), the older records were not: age alone would evict the unsent first.
        var sent = Enumerable.Range(n - n / 3, n / 3).Select(i => (long)i).ToList();
        h.Outbox.RemoveMany(sent);
        h.File.BeginTrans();
        h.Budget.EvictIfOverBudget(keepSequence: n, default);
        h.File.Commit();
        var evicted = Enumerable.Range(1, n).Where(i => h.Records.FindJson(i) is null).Select(i => (long)i).ToHashSet();
        Assert.NotEmpty(evicted);
        if (h.Budget.EvictedUnsent > 0) Assert.All(sent, s => Assert.Contains(s, evicted));
        else Assert.All(evicted, e => Assert.Contains(e, sent));
    }

    [Fact]
    public void Learn_DataFilePastItsShare_DensityFromTheRealFileAndNotAgainUntilTheFileGrows()
    {
        using var h = new StoreHarness(budgetBytes: StoreOptions.MinBudgetBytes);
        var n = 0;
        while (true)
        {
            h.Store(Prepared(++n), Prepared(++n), Prepared(++n), Prepared(++n));
            h.File.Checkpoint();
            if (Disk(h).Data > h.Budget.DataAllowance(Disk(h))) break;
        }
        var disk = Disk(h);
        Assert.True(h.Budget.Learn(disk));
        Assert.Equal(h.Budget.StoredBytes / (double)disk.Data, h.Budget.Density, 6);
        // The limit keeps the records at what the file's share holds at that density.
        Assert.True(h.Budget.ContentLimit(disk) < h.Budget.StoredBytes);
        Assert.False(h.Budget.Learn(disk)); // same file size: the freed pages are still to be reused

        // The file grows again after evictions (pages LiteDB could not reuse) while the records are at the low water:
        // the density is scaled by the overshoot, never measured again from that low point.
        var first = h.Budget.Density;
        var grown = disk with { Data = disk.Data + 8192 };
        Assert.True(h.Budget.Learn(grown));
        Assert.Equal(first * h.Budget.DataAllowance(grown) / grown.Data, h.Budget.Density, 9);
        Assert.Equal(grown.Data, h.Budget.LearnedDataBytes);
    }

    [Fact]
    public void Restore_AfterRollback_CountersAsMarked()
    {
        using var h = new StoreHarness(budgetBytes: StoreOptions.MinBudgetBytes);
        h.Store(Prepared(1));
        var mark = h.Budget.Mark();
        h.Budget.Add(100_000);
        h.Budget.Restore(mark);
        Assert.Equal(mark.StoredBytes, h.Budget.StoredBytes);
    }

    [Fact]
    public void Write_ThenReopen_CountersAndDensityRead()
    {
        using var h = new StoreHarness(budgetBytes: StoreOptions.MinBudgetBytes);
        h.Store(Prepared(1), Prepared(2));
        h.Budget.Learn(new DiskBytes(StoreOptions.MinBudgetBytes, 0, 0));
        h.Budget.Write();
        var again = new DiskBudget(h.File.Database, h.Options, h.Records, h.Outbox);
        Assert.Equal(h.Budget.StoredBytes, again.StoredBytes);
        Assert.True(again.StoredBytes > 0);
        Assert.True(again.Density > 0);
        Assert.Equal(h.Budget.Density, again.Density);
        Assert.Equal(StoreOptions.MinBudgetBytes, again.LearnedDataBytes);
    }
}
