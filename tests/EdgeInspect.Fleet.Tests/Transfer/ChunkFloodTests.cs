using EdgeInspect.Fleet.Protocol.Transfer;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Transfer;

/// <summary>A chunk flood against a refused offer: the device's memory stays bounded (see <see cref="MemoryMeasurements"/>).</summary>
[Collection(MemoryMeasurements.Name)]
public sealed class ChunkFloodTests(Xunit.Abstractions.ITestOutputHelper output)
{
    [MosquittoFact]
    [Trait(TestCategories.Name, TestCategories.Slow)]
    public async Task Offer_ChunkSizeOneFor256MiB_RefusedAndChunkFloodKeepsMemoryBounded()
    {
        await using var rig = await TransferRig.StartAsync();
        var size = 256L * 1024 * 1024;
        var attack = new TransferOffer("tiny", size, (int)size, 1, new string('a', 64));
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var before = Environment.WorkingSet;

        var reply = await rig.OfferAsync(attack);
        // The attacker sends chunks anyway, as fast as the broker takes them.
        var chunk = TransferChunk.Create("tiny", 0, new byte[1]);
        for (var i = 0; i < 20_000; i++) await rig.ChunkAsync(chunk with { Index = i });
        await rig.AssertStatusWithin5sAsync();
        var after = Environment.WorkingSet;

        var growthMiB = (after - before) / (1024.0 * 1024);
        output.WriteLine($"working set {before / (1024 * 1024)} MiB -> {after / (1024 * 1024)} MiB ({growthMiB:F1} MiB) over the refused offer and 20000 chunks; queue full {rig.Receiver.QueueFull}, rejected {rig.Receiver.RejectedChunks}");
        Assert.Equal("chunk-too-small", reply.Error);
        Assert.Empty(Directory.EnumerateFileSystemEntries(rig.SpoolFolder));
        Assert.True(growthMiB < 64, $"working set grew {growthMiB:F1} MiB, ceiling 64 MiB");
    }
}
