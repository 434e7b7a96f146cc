using EdgeInspect.Storage.LiteDb;
using Xunit;

namespace EdgeInspect.Storage.Tests;

public sealed class SnapshotReaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-snap-").FullName;
    private readonly DateTimeOffset _t0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    [Fact]
    public void Open_NoSuchStore_FileNotFound()
    {
        Assert.Throws<FileNotFoundException>(() => SnapshotReader.Open(Path.Combine(_dir, "missing.db")));
    }

    [Fact]
    public void Open_LiveStore_CopyHasItsRecordsAndDisposeDeletesTheCopy()
    {
        var path = Path.Combine(_dir, "live.db");
        using var live = new LiteDbInspectionStore(new StoreOptions { Path = path });
        live.Append(LiteDbInspectionStoreTests.Record(1, _t0));
        string copy;
        using (var snap = SnapshotReader.Open(path))
        {
            copy = snap.Store.Path;
            Assert.NotEqual(Path.GetFullPath(path), Path.GetFullPath(copy));
            Assert.Equal([1L], snap.Store.Records().Select(r => r.Sequence));
        }
        Assert.False(Directory.Exists(Path.GetDirectoryName(copy)));
        live.Append(LiteDbInspectionStoreTests.Record(2, _t0));
        Assert.Equal(2, live.Records().Count());
    }
}
