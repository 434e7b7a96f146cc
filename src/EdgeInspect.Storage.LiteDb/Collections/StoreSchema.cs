using EdgeInspect.Core.Storage;
using LiteDB;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace EdgeInspect.Storage.LiteDb.Collections;

/// <summary>The collections of the store's database file, and the check that a file holds them readably.</summary>
internal static class StoreSchema
{
    /// <summary>Inspection records by sequence number.</summary>
    public const string Records = "records";

    /// <summary>Sequence numbers of records the uplink has not delivered yet.</summary>
    public const string Outbox = "outbox";

    /// <summary>Audit events.</summary>
    public const string Audit = "audit";

    /// <summary>Telemetry snapshots.</summary>
    public const string Telemetry = "telemetry";

    /// <summary>Two documents: "device" (<see cref="DeviceStateDocument"/>) and "meta" (<see cref="DiskBudget"/>).</summary>
    public const string State = "state";

    /// <summary>
    /// Reads every collection the store reads, and the device state, so a torn file fails at open and not at the first part.
    /// </summary>
    public static void Verify(LiteDatabase db)
    {
        foreach (var name in new[] { Records, Outbox, Audit, Telemetry, State })
        {
            var col = db.GetCollection(name);
            _ = col.Find(Query.All("_id", Query.Descending), 0, 1).FirstOrDefault();
            _ = col.LongCount();
        }
        var state = db.GetCollection(State).FindById(DeviceStateDocument.Id);
        if (state is not null) _ = JsonSerializer.Deserialize<DeviceState>(state["json"].AsBinary, RecordJson.Options);
    }
}
