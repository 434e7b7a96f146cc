using EdgeInspect.Storage.LiteDb.Collections;
using Xunit;

namespace EdgeInspect.Storage.Tests.Collections;

public sealed class DiskBudgetTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);

    private static PreparedRecord Prepared(long seq) => PreparedRecord.Create(LiteDbInspectionStoreTests.Record(seq, T0), lowConfidence: 0.7);

    [Fact]
    public void EvictIfOverBudget_PastBudget_DownToLowWaterKeepingTheNewestAndCounting()
    {
        using var h = new StoreHarness(budgetBytes: 64 * 1024);
        var n = 0;
        while (h.Budget.StoredBytes <= h.Options.BudgetBytes) h.Store(Prepared(++n));
        h.Outbox.Remove(1); // sent: its eviction is not "unsent"
        h.File.BeginTrans();
        h.Budget.EvictIfOverBudget(keepSequence: n);
        h.File.Commit();
        Assert.True(h.Budget.StoredBytes <= (long)(h.Options.BudgetBytes * h.Options.LowWaterFraction));
        var evicted = h.Budget.Evictions()["agreedOk"];
        Assert.Equal(n - h.Records.Count, evicted);
        Assert.Equal(evicted - 1, h.Budget.EvictedUnsent);
        Assert.NotNull(h.Records.FindJson(n));
    }

    [Fact]
    public void Restore_AfterRollback_CountersAsMarked()
    {
        using var h = new StoreHarness(budgetBytes: 64 * 1024);
        h.Store(Prepared(1));
        var mark = h.Budget.Mark();
        h.Budget.Add(100_000);
        h.Budget.Restore(mark);
        Assert.Equal(mark.StoredBytes, h.Budget.StoredBytes);
    }

    [Fact]
    public void Write_ThenReopen_CountersRead()
    {
        using var h = new StoreHarness();
        h.Store(Prepared(1), Prepared(2));
        h.Budget.Write();
        var again = new DiskBudget(h.File.Database, h.Options, h.Records, h.Outbox);
        Assert.Equal(h.Budget.StoredBytes, again.StoredBytes);
        Assert.True(again.StoredBytes > 0);
    }
}
