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

    [Fact]
    public void Park_OneOfFive_SkippedByBothReadsCountedStillQueuedAndRemovable()
    {
        using var h = new StoreHarness();
        h.Store([.. Enumerable.Range(1, 5).Select(i => Prepared(i))]);

        Assert.True(h.Outbox.Park(5, "refused"));
        Assert.True(h.Outbox.Park(2, "refused twice"));
        Assert.False(h.Outbox.Park(9, "never queued"));

        Assert.Equal([1L, 3L, 4L], h.Outbox.ReadBatch(long.MinValue, 10).Select(i => i.Offset));
        Assert.Equal([3L, 4L], h.Outbox.ReadNewest(2).Select(i => i.Offset));
        Assert.Equal(5, h.Outbox.Count);
        Assert.Equal(2, h.Outbox.ParkedCount);
        Assert.Equal([(2L, "refused twice"), (5L, "refused")], h.Outbox.Parked());
        Assert.True(h.Outbox.Remove(2));
        Assert.Equal(1, h.Outbox.ParkedCount);
    }
}
