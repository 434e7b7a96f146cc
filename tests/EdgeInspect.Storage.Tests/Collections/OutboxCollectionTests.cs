using EdgeInspect.Storage.LiteDb.Collections;
using Xunit;

namespace EdgeInspect.Storage.Tests.Collections;

public sealed class OutboxCollectionTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);

    private static PreparedRecord Prepared(long seq) => PreparedRecord.Create(LiteDbInspectionStoreTests.Record(seq, T0), lowConfidence: 0.7);

    [Fact]
    public void ReadBatch_RecordGoneMeanwhile_SkippedAndDequeued()
    {
        using var h = new StoreHarness();
        h.Store(Prepared(1), Prepared(2), Prepared(3));
        h.Records.Delete(2);
        Assert.Equal([1L, 3L], h.Outbox.ReadBatch(long.MinValue, 10).Select(i => i.Offset));
        Assert.Equal(2, h.Outbox.Count);
    }

    [Fact]
    public void RemoveManyAndRemoveUpTo_LeaveTheRestInOrder()
    {
        using var h = new StoreHarness();
        h.Store([.. Enumerable.Range(1, 8).Select(i => Prepared(i))]);
        h.Outbox.RemoveMany([2, 3]);
        h.Outbox.RemoveUpTo(4);
        Assert.True(h.Outbox.Remove(8));
        Assert.False(h.Outbox.Remove(8));
        Assert.Equal([5L, 6L, 7L], h.Outbox.ReadBatch(long.MinValue, 10).Select(i => i.Offset));
        Assert.Equal([6L, 7L], h.Outbox.ReadNewest(2).Select(i => i.Offset));
    }
}
