using EdgeInspect.Storage.LiteDb;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EdgeInspect.Storage.Tests;

public sealed class StoreFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-file-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private StoreOptions Options => new() { Path = Path.Combine(_dir, "f.db") };

    private static StoreFile Open(StoreOptions options, TimeProvider? time = null) =>
        new(options, time ?? TimeProvider.System, NullLogger.Instance, openStream: null);

    [Fact]
    public void LogPath_DataFile_LogBesideItWithSuffix()
    {
        Assert.Equal(Path.Combine("data", "edgeinspect-log.db"), StoreFile.LogPath(Path.Combine("data", "edgeinspect.db")));
    }

    [Fact]
    public void Open_NewFile_NothingMovedAsideAndFastCommit()
    {
        using var file = Open(Options);
        Assert.Null(file.MovedAsideTo);
        Assert.Equal(0, file.RecoveredCorruptFiles);
        Assert.True(file.FastDurableCommit);
    }

    [Fact]
    public void Open_GarbageFile_MovedAsideWithUtcStampAndCounted()
    {
        var options = Options;
        File.WriteAllBytes(options.Path, Enumerable.Range(0, 20000).Select(i => (byte)(i * 7)).ToArray());
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
        using (var file = Open(options, time))
        {
            Assert.Equal(options.Path + ".corrupt-20261123T080000000Z", file.MovedAsideTo);
            Assert.Equal(1, file.RecoveredCorruptFiles);
            Assert.True(File.Exists(file.MovedAsideTo));
        }
        using var again = Open(options, time);
        Assert.Null(again.MovedAsideTo);
        Assert.Equal(1, again.RecoveredCorruptFiles); // counted from the files beside it
    }

    [Fact]
    public void Durable_AfterCommit_OneLogFsyncNoCheckpoint()
    {
        using var file = Open(Options);
        var col = file.Database.GetCollection("t");
        var flushes = file.DiskFlushes;
        var checkpoints = file.Checkpoints;
        file.BeginTrans();
        for (var i = 0; i < 10; i++) col.Insert(new LiteDB.BsonDocument { ["_id"] = i });
        file.Commit();
        file.Durable();
        Assert.InRange(file.DiskFlushes - flushes, 1, 2);
        Assert.Equal(checkpoints, file.Checkpoints);
    }

    [Fact]
    public void Dispose_Twice_SecondDoesNothing()
    {
        var file = Open(Options);
        file.Dispose();
        file.Dispose();
        Assert.True(file.IsDisposed);
    }
}
