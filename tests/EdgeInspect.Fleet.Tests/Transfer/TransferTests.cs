using System.Security.Cryptography;
using EdgeInspect.Fleet.Packages;
using EdgeInspect.Fleet.Protocol.Packages;
using EdgeInspect.Fleet.Protocol.Transfer;
using EdgeInspect.Station.Fleet.Transfer;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Transfer;

public sealed class TransferTests
{
    private static readonly TransferLimits Limits = new() { MaxPackageBytes = 1 << 20, MaxChunkBytes = 4096, MinChunkBytes = 512, MaxChunkCount = 4096 };

    private static (string Archive, byte[] Bytes) Archive(TempDir tmp, int size)
    {
        var bytes = RandomNumberGenerator.GetBytes(size);
        var path = Path.Combine(tmp.Path, "pkg.tar");
        File.WriteAllBytes(path, bytes);
        return (path, bytes);
    }

    [Fact]
    public void Accept_AllChunksOutOfOrder_CompleteWithSameBytes()
    {
        using var tmp = new TempDir();
        var (archive, bytes) = Archive(tmp, 10_000);
        using var sender = new PackageSender("pkg-1", archive, 1000);
        var receiver = new PackageReceiver(tmp.Sub("spool"), Limits);

        var offer = receiver.Offer(sender.Offer);
        ChunkResult last = default;
        foreach (var i in Enumerable.Range(0, 10).Reverse()) last = receiver.Accept(sender.ReadChunk(i));

        Assert.True(offer.Accepted);
        Assert.Equal(10, offer.MissingChunks.Count);
        Assert.Equal(ChunkStatus.Complete, last.Status);
        Assert.Equal(bytes, File.ReadAllBytes(last.ArchivePath!));
    }

    [Fact]
    public void Offer_AfterDroppedLinkAndRestart_ResumesWithOnlyMissingChunks()
    {
        using var tmp = new TempDir();
        var (archive, bytes) = Archive(tmp, 9_500);
        var spool = tmp.Sub("spool");
        using var sender = new PackageSender("pkg-2", archive, 1000);
        var first = new PackageReceiver(spool, Limits);
        first.Offer(sender.Offer);
        foreach (var i in new[] { 0, 1, 2, 5, 9 }) first.Accept(sender.ReadChunk(i));
        // A chunk torn mid-write by a power cut leaves only its temp file behind.
        File.WriteAllBytes(Path.Combine(spool, "pkg-2", "chunks", "3.tmp"), new byte[10]);

        var restarted = new PackageReceiver(spool, Limits);
        var resumed = restarted.Offer(sender.Offer);
        ChunkResult last = default;
        foreach (var i in resumed.MissingChunks) last = restarted.Accept(sender.ReadChunk(i));

        Assert.Equal(["pkg-2"], restarted.PendingPackageIds());
        Assert.Equal([3, 4, 6, 7, 8], resumed.MissingChunks);
        Assert.Equal(ChunkStatus.Complete, last.Status);
        Assert.Equal(bytes, File.ReadAllBytes(last.ArchivePath!));
    }

    [Fact]
    public void Offer_OverDeviceLimit_RefusedBeforeAnyChunk()
    {
        using var tmp = new TempDir();
        var receiver = new PackageReceiver(tmp.Sub("spool"), Limits);

        var result = receiver.Offer(new TransferOffer("big", 2L << 20, 512, 4096, new string('0', 64)));

        Assert.False(result.Accepted);
        Assert.Contains("over this device's limit", result.Reason);
        Assert.Empty(receiver.PendingPackageIds());
    }

    [Theory]
    [InlineData("a/b")]
    [InlineData("a+b")]
    [InlineData("#")]
    [InlineData("..")]
    [InlineData("")]
    public void Offer_IdUnsafeForTopicOrFolder_Refused(string id)
    {
        using var tmp = new TempDir();
        var receiver = new PackageReceiver(tmp.Sub("spool"), Limits);

        var result = receiver.Offer(new TransferOffer(id, 100, 1, 100, new string('0', 64)));

        Assert.False(result.Accepted);
        Assert.Contains("packageId", result.Reason);
    }

    [Fact]
    public void Accept_ChunkWhoseBytesDifferFromItsHash_Rejected()
    {
        using var tmp = new TempDir();
        var (archive, _) = Archive(tmp, 3000);
        using var sender = new PackageSender("pkg-3", archive, 1000);
        var receiver = new PackageReceiver(tmp.Sub("spool"), Limits);
        receiver.Offer(sender.Offer);
        var chunk = sender.ReadChunk(1);
        var flipped = chunk.Data.ToArray();
        flipped[7] ^= 0xFF;

        var result = receiver.Accept(chunk with { Data = flipped });

        Assert.Equal(ChunkStatus.Rejected, result.Status);
        Assert.Contains("SHA-256", result.Reason);
        Assert.Equal(3, receiver.Missing("pkg-3").Count);
    }

    [Fact]
    public void Accept_ShortChunk_RejectedAsTruncated()
    {
        using var tmp = new TempDir();
        var (archive, _) = Archive(tmp, 3000);
        using var sender = new PackageSender("pkg-4", archive, 1000);
        var receiver = new PackageReceiver(tmp.Sub("spool"), Limits);
        receiver.Offer(sender.Offer);

        var result = receiver.Accept(TransferChunk.Create("pkg-4", 0, sender.ReadChunk(0).Data[..500]));

        Assert.Equal(ChunkStatus.Rejected, result.Status);
        Assert.Contains("truncated", result.Reason);
    }

    [Fact]
    public void End_WithChunksMissing_RefusedAsTruncatedStream()
    {
        using var tmp = new TempDir();
        var (archive, _) = Archive(tmp, 5000);
        using var sender = new PackageSender("pkg-5", archive, 1000);
        var receiver = new PackageReceiver(tmp.Sub("spool"), Limits);
        receiver.Offer(sender.Offer);
        receiver.Accept(sender.ReadChunk(0));
        receiver.Accept(sender.ReadChunk(1));

        var result = receiver.End("pkg-5");

        Assert.Equal(ChunkStatus.Rejected, result.Status);
        Assert.StartsWith("truncated chunk stream: 3 of 5 chunks missing", result.Reason);
    }

    [Fact]
    public void Accept_LastChunkButOfferHashWrong_CorruptAndDiscarded()
    {
        using var tmp = new TempDir();
        var (archive, _) = Archive(tmp, 2000);
        using var sender = new PackageSender("pkg-6", archive, 1000);
        var receiver = new PackageReceiver(tmp.Sub("spool"), Limits);
        receiver.Offer(sender.Offer with { Sha256 = new string('a', 64) });
        receiver.Accept(sender.ReadChunk(0));

        var result = receiver.Accept(sender.ReadChunk(1));

        Assert.Equal(ChunkStatus.Corrupt, result.Status);
        Assert.Empty(receiver.PendingPackageIds());
    }

    [Fact]
    public void Offer_SameIdDifferentArchive_RestartsTransfer()
    {
        using var tmp = new TempDir();
        var (archive, _) = Archive(tmp, 3000);
        using var sender = new PackageSender("pkg-7", archive, 1000);
        var receiver = new PackageReceiver(tmp.Sub("spool"), Limits);
        receiver.Offer(sender.Offer);
        receiver.Accept(sender.ReadChunk(0));

        var again = receiver.Offer(sender.Offer with { Sha256 = new string('b', 64) });

        Assert.Equal(3, again.MissingChunks.Count);
    }

    [Fact]
    public void Offer_ChunkSizeOne_RefusedAsChunkTooSmallWithoutState()
    {
        using var tmp = new TempDir();
        var receiver = new PackageReceiver(tmp.Sub("spool"), Limits);

        var result = receiver.Offer(new TransferOffer("tiny", 100_000, 100_000, 1, new string('0', 64)));

        Assert.False(result.Accepted);
        Assert.Equal("chunk-too-small", result.Code);
        Assert.Contains("minimum of 512", result.Reason);
        Assert.Empty(receiver.PendingPackageIds());
    }

    [Fact]
    public void Offer_MoreChunksThanLimit_RefusedAsTooManyChunks()
    {
        using var tmp = new TempDir();
        var receiver = new PackageReceiver(tmp.Sub("spool"), new TransferLimits { MaxPackageBytes = 1 << 20, MaxChunkBytes = 4096, MinChunkBytes = 512, MaxChunkCount = 10 });

        var result = receiver.Offer(new TransferOffer("many", 11 * 512, 11, 512, new string('0', 64)));

        Assert.Equal(("too-many-chunks", false), (result.Code, result.Accepted));
    }

    [Fact]
    public void Offer_SecondTransferWhileOneInFlight_RefusedAsTransferBusy()
    {
        using var tmp = new TempDir();
        var (archive, _) = Archive(tmp, 3000);
        using var first = new PackageSender("first", archive, 1000);
        using var second = new PackageSender("second", archive, 1000);
        var receiver = new PackageReceiver(tmp.Sub("spool"), Limits);
        receiver.Offer(first.Offer);
        receiver.Accept(first.ReadChunk(0));

        var refused = receiver.Offer(second.Offer);
        var resumed = receiver.Offer(first.Offer);

        Assert.False(refused.Accepted);
        Assert.Equal("transfer-busy", refused.Code);
        Assert.Contains("first", refused.Reason);
        Assert.True(resumed.Accepted);
        Assert.Equal(["first"], receiver.PendingPackageIds());
    }

    [Fact]
    public void Offer_WouldEatRecordStoreReserve_RefusedAsNoSpace()
    {
        using var tmp = new TempDir();
        var spool = tmp.Sub("spool");
        var free = new DriveInfo(spool).AvailableFreeSpace;
        // The reserve is what the real disk has free now: any package would eat into it.
        var receiver = new PackageReceiver(spool, Limits, new TransferOptions { MinChunkBytes = 512, ReserveBytes = free });

        var result = receiver.Offer(new TransferOffer("big-enough", 100_000, 100, 1000, new string('0', 64)));

        Assert.Equal(("no-space", false), (result.Code, result.Accepted));
        Assert.Contains("record store", result.Reason);
        Assert.Empty(receiver.PendingPackageIds());
    }

    [Fact]
    public void Offer_VerifierRefuses_CodeAndNothingStored()
    {
        using var tmp = new TempDir();
        var receiver = new PackageReceiver(tmp.Sub("spool"), Limits,
            verify: o => throw new PackageRefusedException(RefusalCode.Unsigned, $"{o.PackageId}: no statement"));

        var result = receiver.Offer(new TransferOffer("plain", 3000, 3, 1000, new string('0', 64)));
        var chunk = receiver.Accept(TransferChunk.Create("plain", 0, new byte[1000]));

        Assert.Equal(("unsigned", false), (result.Code, result.Accepted));
        Assert.Equal(ChunkStatus.Rejected, chunk.Status);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(tmp.Path, "spool")));
    }

    [Fact]
    public void Sweep_TransferIdlePastTimeout_AbandonedAndSlotFreed()
    {
        using var tmp = new TempDir();
        var (archive, _) = Archive(tmp, 3000);
        using var first = new PackageSender("first", archive, 1000);
        using var second = new PackageSender("second", archive, 1000);
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var receiver = new PackageReceiver(tmp.Sub("spool"), Limits, new TransferOptions { MinChunkBytes = 512, AbandonAfter = TimeSpan.FromMinutes(30) }, time);
        receiver.Offer(first.Offer);
        receiver.Accept(first.ReadChunk(0));

        time.Advance(TimeSpan.FromMinutes(29));
        receiver.Sweep();
        var stillThere = receiver.PendingPackageIds();
        time.Advance(TimeSpan.FromMinutes(2));
        receiver.Sweep();

        Assert.Equal(["first"], stillThere);
        Assert.Empty(receiver.PendingPackageIds());
        Assert.Equal(1, receiver.Abandoned);
        Assert.True(receiver.Offer(second.Offer).Accepted);
    }

    [Fact]
    public void Constructor_AbandonedAndBrokenTransfersInSpool_CleanedAtStart()
    {
        using var tmp = new TempDir();
        var (archive, _) = Archive(tmp, 3000);
        var spool = tmp.Sub("spool");
        using (var old = new PackageSender("old", archive, 1000))
        using (var fresh = new PackageSender("fresh", archive, 1000))
        {
            var before = new PackageReceiver(spool, Limits, new TransferOptions { MinChunkBytes = 512, MaxConcurrentTransfers = 2 });
            before.Offer(old.Offer);
            before.Accept(old.ReadChunk(0));
            before.Offer(fresh.Offer);
        }
        var twoHoursAgo = DateTime.UtcNow.AddHours(-2);
        foreach (var p in Directory.EnumerateFileSystemEntries(Path.Combine(spool, "old"), "*", SearchOption.AllDirectories).Append(Path.Combine(spool, "old")))
        {
            if (Directory.Exists(p)) Directory.SetLastWriteTimeUtc(p, twoHoursAgo);
            else File.SetLastWriteTimeUtc(p, twoHoursAgo);
        }
        Directory.CreateDirectory(Path.Combine(spool, "no-offer", "chunks"));
        File.WriteAllText(Path.Combine(spool, "stray.tmp"), "x");

        var restarted = new PackageReceiver(spool, Limits, new TransferOptions { MinChunkBytes = 512, MaxConcurrentTransfers = 2, AbandonAfter = TimeSpan.FromHours(1) });

        Assert.Equal(["fresh"], restarted.PendingPackageIds());
        Assert.Equal(["fresh"], Directory.EnumerateFileSystemEntries(spool).Select(Path.GetFileName));
        Assert.Equal(3, restarted.Abandoned);
    }

    [Fact]
    public void Chunk_EncodeDecode_RoundTrips()
    {
        var chunk = TransferChunk.Create("pkg", 4, new byte[] { 1, 2, 3 });

        Assert.True(TransferChunk.TryDecode(chunk.Encode(), out var back, out var reason), reason);
        Assert.Equal(("pkg", 4, chunk.Sha256), (back.PackageId, back.Index, back.Sha256));
        Assert.Equal(new byte[] { 1, 2, 3 }, back.Data.ToArray());
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 0, 50, 1 })]
    [InlineData(new byte[] { 0, 3, (byte)'a', (byte)'b', (byte)'c' })]
    [InlineData(new byte[] { 0, 2, (byte)'{', (byte)'}' })]
    public void TryDecode_MalformedPayload_FalseWithReason(byte[] payload)
    {
        Assert.False(TransferChunk.TryDecode(payload, out _, out var reason));
        Assert.False(string.IsNullOrEmpty(reason));
    }
}
