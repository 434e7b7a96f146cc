using EdgeInspect.Storage.LiteDb;
using EdgeInspect.Storage.LiteDb.Collections;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeInspect.Storage.Tests.Collections;

/// <summary>One database file in a temp folder with the small stores over it, as the facade composes them.</summary>
internal sealed class StoreHarness : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-col-").FullName;

    public StoreHarness(long budgetBytes = 0)
    {
        Options = new StoreOptions { Path = Path.Combine(_dir, "c.db"), BudgetBytes = budgetBytes };
        File = new StoreFile(Options, TimeProvider.System, NullLogger.Instance, openStream: null);
        Records = new RecordCollection(File.Database);
        Outbox = new OutboxCollection(File, Records);
        State = new DeviceStateDocument(File.Database);
        Budget = new DiskBudget(File.Database, Options, Records, Outbox);
    }

    public StoreOptions Options { get; }
    public StoreFile File { get; }
    public RecordCollection Records { get; }
    public OutboxCollection Outbox { get; }
    public DeviceStateDocument State { get; }
    public DiskBudget Budget { get; }

    /// <summary>Inserts and queues records, counting them against the budget, in one transaction.</summary>
    public void Store(params PreparedRecord[] records)
    {
        File.BeginTrans();
        foreach (var p in records)
        {
            Budget.Add(Records.Insert(p));
            Outbox.Enqueue(p.Record.Sequence);
        }
        File.Commit();
    }

    public void Dispose()
    {
        File.Dispose();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}
