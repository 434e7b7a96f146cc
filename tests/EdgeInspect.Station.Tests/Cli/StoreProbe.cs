using EdgeInspect.Storage.LiteDb;

namespace EdgeInspect.Station.Tests.Cli;

/// <summary>Reads how far a running station's store has got, through a snapshot copy (the live file is not touched).</summary>
internal static class StoreProbe
{
    /// <summary>Records stored so far; 0 while the file does not exist yet.</summary>
    public static int Records(string dbPath)
    {
        if (!File.Exists(dbPath)) return 0;
        try
        {
            using var snapshot = LiteDbInspectionStore.OpenSnapshot(dbPath);
            return snapshot.Store.Records().Count();
        }
        // The file is being created, or the copy caught a commit half-written: asked again half a second later.
        catch (Exception e) when (e is IOException or LiteDB.LiteException) { return 0; }
    }
}
