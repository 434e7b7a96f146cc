using EdgeInspect.Core.Storage;
using LiteDB;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace EdgeInspect.Storage.LiteDb.Collections;

/// <summary>
/// The audit trail: who changed what, when and why, indexed by time. Each event is durable when appended.
/// <para>Not thread-safe: the store calls it under its one lock.</para>
/// </summary>
internal sealed class AuditCollection
{
    private readonly StoreFile _file;
    private readonly ILiteCollection<BsonDocument> _audit;

    /// <summary>Opens the collection and ensures its time index.</summary>
    public AuditCollection(StoreFile file)
    {
        _file = file;
        _audit = file.Database.GetCollection(StoreSchema.Audit);
        _audit.EnsureIndex("at");
    }

    /// <summary>Events stored.</summary>
    public long Count => _audit.LongCount();

    /// <summary>Stores one event and makes it durable.</summary>
    public void Append(AuditEvent auditEvent)
    {
        _audit.Insert(new BsonDocument
        {
            ["at"] = auditEvent.At.UtcDateTime,
            ["kind"] = auditEvent.Kind,
            ["json"] = JsonSerializer.SerializeToUtf8Bytes(auditEvent, RecordJson.Options),
        });
        _file.Durable();
    }

    /// <summary>Inserts an event document as read from another file of this store (salvage), in the caller's transaction.</summary>
    public void Import(BsonDocument document) =>
        _audit.Insert(new BsonDocument { ["at"] = document["at"], ["kind"] = document["kind"], ["json"] = document["json"] });

    /// <summary>
    /// Events at or after <paramref name="since"/> (all when null), oldest first. The documents are read now; they are
    /// deserialized as the result is enumerated, so the caller may release its lock in between.
    /// </summary>
    public IEnumerable<AuditEvent> Find(DateTimeOffset? since)
    {
        List<BsonDocument> docs = since is { } s ? [.. _audit.Find(Query.GTE("at", s.UtcDateTime))] : [.. _audit.FindAll()];
        return docs.Select(d => JsonSerializer.Deserialize<AuditEvent>(d["json"].AsBinary, RecordJson.Options)!).OrderBy(a => a.At);
    }
}
