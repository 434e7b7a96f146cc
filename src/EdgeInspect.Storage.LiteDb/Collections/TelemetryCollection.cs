using LiteDB;

namespace EdgeInspect.Storage.LiteDb.Collections;

/// <summary>
/// Telemetry snapshots (already serialized JSON), indexed by time. Each snapshot is durable when appended.
/// <para>Not thread-safe: the store calls it under its one lock.</para>
/// </summary>
internal sealed class TelemetryCollection
{
    private readonly StoreFile _file;
    private readonly ILiteCollection<BsonDocument> _telemetry;

    /// <summary>Opens the collection and ensures its time index.</summary>
    public TelemetryCollection(StoreFile file)
    {
        _file = file;
        _telemetry = file.Database.GetCollection(StoreSchema.Telemetry);
        _telemetry.EnsureIndex("at");
    }

    /// <summary>Snapshots stored.</summary>
    public long Count => _telemetry.LongCount();

    /// <summary>Stores one snapshot and makes it durable.</summary>
    public void Append(DateTimeOffset at, byte[] json)
    {
        _telemetry.Insert(new BsonDocument { ["at"] = at.UtcDateTime, ["json"] = json });
        _file.Durable();
    }

    /// <summary>Snapshots at or after <paramref name="since"/> (all when null), read now, in storage order.</summary>
    public IEnumerable<byte[]> Find(DateTimeOffset? since)
    {
        List<BsonDocument> docs = since is { } s ? [.. _telemetry.Find(Query.GTE("at", s.UtcDateTime))] : [.. _telemetry.FindAll()];
        return docs.Select(d => d["json"].AsBinary);
    }
}
