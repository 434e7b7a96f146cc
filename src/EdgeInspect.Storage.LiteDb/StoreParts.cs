using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;
using EdgeInspect.Storage.LiteDb.Collections;
using LiteDB;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace EdgeInspect.Storage.LiteDb;

/// <summary>
/// One open database file and the small stores over it, as the facade uses them; replaced as a whole when the file is
/// found corrupt. Also takes a salvaged file's content in, and counts the gate's evidence once on a file written
/// before the counters existed.
/// <para>Not thread-safe: the store calls it under its one lock.</para>
/// </summary>
internal sealed class StoreParts : IDisposable
{
    private const int CountPage = 1000;

    /// <summary>Opens the file at <see cref="StoreOptions.Path"/> (a file that will not open is moved aside by <see cref="StoreFile"/>).</summary>
    public StoreParts(StoreFile file, StoreOptions options)
    {
        File = file;
        // Indexes are created in this order (records, audit, telemetry): on a new file it decides the page layout.
        Records = new RecordCollection(file.Database);
        Outbox = new OutboxCollection(file, Records);
        Audit = new AuditCollection(file);
        Telemetry = new TelemetryCollection(file);
        State = new DeviceStateDocument(file.Database);
        Budget = new DiskBudget(file.Database, options, Records, Outbox);
    }

    /// <summary>The database file.</summary>
    public StoreFile File { get; }

    /// <summary>Inspection records.</summary>
    public RecordCollection Records { get; }

    /// <summary>The uplink's queue.</summary>
    public OutboxCollection Outbox { get; }

    /// <summary>The audit trail.</summary>
    public AuditCollection Audit { get; }

    /// <summary>Telemetry snapshots.</summary>
    public TelemetryCollection Telemetry { get; }

    /// <summary>Device state, high-water mark, evidence counters and the store epoch.</summary>
    public DeviceStateDocument State { get; }

    /// <summary>The disk budget and its eviction counters.</summary>
    public DiskBudget Budget { get; }

    /// <summary>
    /// On a file whose state predates the evidence counters (or their per-model split), counts paired and agreed parts
    /// over the stored records once (the only start-up cost that grows with the store, paid a single time per file).
    /// </summary>
    public void CountEvidenceIfMissing()
    {
        if (!State.NeedsEvidenceCount) return;
        long paired = 0, agreed = 0, after = long.MinValue;
        var perModel = new List<ModelEvidence>();
        while (Records.Page(after, CountPage) is { Count: > 0 } page)
        {
            foreach (var r in page)
            {
                after = r.Sequence;
                if (JsonSerializer.Deserialize<InspectionRecord>(r.Json, RecordJson.Options) is not { } record
                    || !ModelEvidence.Count(perModel, record)) continue;
                paired++;
                if (record.Agreement == true) agreed++;
            }
        }
        State.SetEvidence(paired, agreed, perModel);
    }

    /// <summary>
    /// Takes what was salvaged from a corrupt file into this (fresh) one, in one durable transaction: its records (those
    /// the old outbox still held stay pending), its audit events and its state, with the high-water mark at or above
    /// the highest sequence the old file still showed. Returns how many salvaged records are pending.
    /// </summary>
    public long Import(SalvagedStore salvaged)
    {
        long unsent = 0;
        File.BeginTrans();
        try
        {
            foreach (var d in salvaged.Records)
            {
                var sequence = d["_id"].AsInt64;
                Budget.Add(Records.InsertDocument(d));
                if (salvaged.Unsent is null || salvaged.Unsent.Contains(sequence))
                {
                    if (salvaged.Parked.TryGetValue(sequence, out var reason)) Outbox.EnqueueParked(sequence, reason);
                    else Outbox.Enqueue(sequence);
                    unsent++;
                }
            }
            foreach (var a in salvaged.Audit) Audit.Import(a);
            var state = salvaged.State ?? new DeviceState();
            State.Restore(state, salvaged.HighestSequence);
            if (salvaged.State is null) State.SetEvidence(Paired(salvaged, out var agreed, out var perModel), agreed, perModel);
            // A state from a build before the per-model split: the salvaged records give the split, the totals stay.
            else if (salvaged.State.ModelEvidence.Count == 0 && salvaged.State.PairedParts > 0)
            {
                Paired(salvaged, out _, out var split);
                State.SetEvidence(salvaged.State.PairedParts, salvaged.State.AgreedParts, split);
            }
            Budget.Write();
            File.Commit();
        }
        catch
        {
            File.Rollback();
            throw;
        }
        File.Durable();
        return unsent;
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => File.Dispose();

    private static long Paired(SalvagedStore salvaged, out long agreed, out List<ModelEvidence> perModel)
    {
        long paired = 0;
        agreed = 0;
        perModel = [];
        foreach (var d in salvaged.Records)
        {
            if (JsonSerializer.Deserialize<InspectionRecord>(d["json"].AsBinary, RecordJson.Options) is not { } record
                || !ModelEvidence.Count(perModel, record)) continue;
            paired++;
            if (record.Agreement == true) agreed++;
        }
        return paired;
    }
}
