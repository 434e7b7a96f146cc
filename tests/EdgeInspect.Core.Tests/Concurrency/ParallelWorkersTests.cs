using EdgeInspect.Core.Concurrency;
using Xunit;

namespace EdgeInspect.Core.Tests.Concurrency;

public sealed class ParallelWorkersTests
{
    private sealed class CountingBody(int items, int workers) : IParallelBody
    {
        public int[] Seen { get; } = new int[items];
        public int[] ByWorker { get; } = new int[workers];
        public int Throw { get; set; } = -1;

        public void Run(int item, int worker)
        {
            if (item == Throw) throw new InvalidOperationException($"item {item} failed");
            Interlocked.Increment(ref Seen[item]);
            Interlocked.Increment(ref ByWorker[worker]);
            Thread.SpinWait(2000); // long enough that the helpers wake and take items too
        }
    }

    [Theory]
    [InlineData(1, 10)]
    [InlineData(2, 1)]
    [InlineData(2, 500)]
    [InlineData(4, 333)]
    public void For_RunsEveryItemExactlyOnce_OnWorkerIndicesInRange(int workers, int items)
    {
        using var gang = new ParallelWorkers(workers);
        for (int round = 0; round < 20; round++)
        {
            var body = new CountingBody(items, workers);
            gang.For(items, body);
            Assert.All(body.Seen, n => Assert.Equal(1, n));
            Assert.Equal(items, body.ByWorker.Sum());
        }
    }

    [Fact]
    public void For_OneWorkerAtMost_RunsEveryItemOnTheCaller()
    {
        using var gang = new ParallelWorkers(3);
        var body = new CountingBody(40, 3);

        gang.For(40, body, maxWorkers: 1);

        Assert.All(body.Seen, n => Assert.Equal(1, n));
        Assert.Equal([40, 0, 0], body.ByWorker);
    }

    [Fact]
    public void For_ItemThrows_RethrowsOnTheCallerAndStaysUsable()
    {
        using var gang = new ParallelWorkers(2);
        var failing = new CountingBody(200, 2) { Throw = 150 };
        var ex = Assert.Throws<InvalidOperationException>(() => gang.For(200, failing));
        Assert.Equal("item 150 failed", ex.Message);

        var next = new CountingBody(100, 2);
        gang.For(100, next);
        Assert.All(next.Seen, n => Assert.Equal(1, n));
    }

    [Fact]
    public void For_Warm_AllocatesNothingOnTheCaller()
    {
        using var gang = new ParallelWorkers(2);
        var body = new CountingBody(64, 2);
        for (int i = 0; i < 20; i++) gang.For(64, body);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 20; i++) gang.For(64, body);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
