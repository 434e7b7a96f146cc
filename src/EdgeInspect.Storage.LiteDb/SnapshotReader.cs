using LiteDB;

namespace EdgeInspect.Storage.LiteDb;

/// <summary>
/// Opens a copy of a store that another process holds open: the data file and its log are copied (shared read) into a
/// temporary folder and opened there, so read-only verbs never write into the live files.
/// </summary>
internal static class SnapshotReader
{
    private const int Attempts = 3;

    /// <summary>
    /// Copies and opens the store at <paramref name="path"/>. A copy caught mid-write (it would not open) is retried
    /// with a fresh copy; after <see cref="Attempts"/> tries it throws <see cref="InvalidDataException"/>.
    /// </summary>
    public static SnapshotStore Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"store '{path}' not found", path);
        Exception? last = null;
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            var dir = Directory.CreateTempSubdirectory("edgeinspect-snapshot-").FullName;
            try
            {
                var copy = Path.Combine(dir, Path.GetFileName(path));
                CopyShared(path, copy);
                var log = StoreFile.LogPath(path);
                if (File.Exists(log)) CopyShared(log, StoreFile.LogPath(copy));
                var store = new LiteDbInspectionStore(new StoreOptions { Path = copy, BudgetBytes = 0 });
                if (store.RecoveredCorruptFiles > 0)
                {
                    store.Dispose();
                    throw new InvalidDataException($"store '{path}' copy did not open (caught mid-write?)");
                }
                return new SnapshotStore(store, dir);
            }
            catch (Exception e) when (e is IOException or LiteException or InvalidDataException)
            {
                last = e;
                try { Directory.Delete(dir, true); } catch (IOException) { }
                Thread.Sleep(50);
            }
        }
        throw new InvalidDataException($"store '{path}' could not be read: {last?.Message}");
    }

    private static void CopyShared(string from, string to)
    {
        using var src = new FileStream(from, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var dst = new FileStream(to, FileMode.CreateNew, FileAccess.Write);
        src.CopyTo(dst);
    }
}
