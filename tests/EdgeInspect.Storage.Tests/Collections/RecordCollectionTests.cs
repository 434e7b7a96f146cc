using EdgeInspect.Core.Domain;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.Storage.LiteDb.Collections;
using Xunit;

namespace EdgeInspect.Storage.Tests.Collections;

public sealed class RecordCollectionTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);

    private static PreparedRecord Prepared(long seq, Verdict verdict = Verdict.Ok, Verdict? human = null) =>
        PreparedRecord.Create(LiteDbInspectionStoreTests.Record(seq, T0.AddSeconds(seq), verdict, human), lowConfidence: 0.7);

    [Fact]
    public void Insert_ReturnsJsonPlusOverhead_AndPagesInSequenceOrder()
    {
        using var h = new StoreHarness();
        var p = Prepared(3);
        h.File.BeginTrans();
        Assert.Equal(p.Json.Length + 96L, h.Records.Insert(p));
        h.Records.Insert(Prepared(1));
        h.Records.Insert(Prepared(2));
        h.File.Commit();
        Assert.Equal([1L, 2L, 3L], h.Records.Page(long.MinValue, 10).Select(r => r.Sequence));
        Assert.Equal([3L], h.Records.Page(2, 10).Select(r => r.Sequence));
        Assert.Equal(T0.AddSeconds(1), h.Records.OldestCapturedAt());
        Assert.Equal(T0.AddSeconds(3), h.Records.NewestCapturedAt());
        Assert.Equal(p.Json, h.Records.FindJson(3));
        Assert.Null(h.Records.FindJson(4));
    }

    [Fact]
    public void EvictionCandidates_MixedClasses_AgreedOkThenNgThenKeepLongestOldestFirst()
    {
        using var h = new StoreHarness();
        h.Store(Prepared(1, Verdict.Ng), Prepared(2, Verdict.Ok, human: Verdict.Ng), Prepared(3), Prepared(4, Verdict.Ng), Prepared(5));
        var order = h.Records.EvictionCandidates(long.MinValue, 10);
        Assert.Equal([3L, 5L, 1L, 4L, 2L], order.Select(c => c.Sequence));
        Assert.Equal([EvictionPolicy.AgreedOk, EvictionPolicy.AgreedOk, EvictionPolicy.Ng, EvictionPolicy.Ng, EvictionPolicy.KeepLongest],
            order.Select(c => c.EvictionClass));
    }
}
