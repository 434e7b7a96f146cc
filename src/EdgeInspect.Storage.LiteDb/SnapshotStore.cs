namespace EdgeInspect.Storage.LiteDb;

/// <summary>A read-only look at a copy of another process's store; disposing deletes the copy.</summary>
/// <param name="store">The store opened on the copy.</param>
/// <param name="directory">The temporary folder holding the copy.</param>
public sealed class SnapshotStore(LiteDbInspectionStore store, string directory) : IDisposable
{
    /// <summary>The store opened on the copy.</summary>
    public LiteDbInspectionStore Store { get; } = store;

    /// <summary>Closes the copy and deletes its folder.</summary>
    public void Dispose()
    {
        Store.Dispose();
        try { Directory.Delete(directory, true); } catch (IOException) { }
    }
}
