using EdgeInspect.Core.Storage;
using LiteDB;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace EdgeInspect.Storage.LiteDb.Collections;

/// <summary>
/// The persisted <see cref="DeviceState"/> (the "device" document of the state collection), cached in memory. It holds
/// the sequence high-water mark, which only moves forward so that a sequence number is never handed out twice.
/// <para>Not thread-safe: the store calls it under its one lock.</para>
/// </summary>
internal sealed class DeviceStateDocument
{
    /// <summary>The document's id in <see cref="StoreSchema.State"/>.</summary>
    public const string Id = "device";

    private readonly ILiteCollection<BsonDocument> _state;
    private DeviceState _current;

    /// <summary>Reads the state; a fresh one when none is stored.</summary>
    public DeviceStateDocument(LiteDatabase db)
    {
        _state = db.GetCollection(StoreSchema.State);
        _current = Read();
    }

    /// <summary>The sequence high-water mark: the last sequence number stored.</summary>
    public long LastSequence => _current.LastSequence;

    /// <summary>A copy of the state.</summary>
    public DeviceState Load() => Clone(_current);

    /// <summary>Writes a copy of <paramref name="state"/>, keeping the higher of its and the stored high-water mark (not made durable here).</summary>
    public void Save(DeviceState state)
    {
        var copy = Clone(state);
        // A stale copy of the state must not let a sequence be reused.
        copy.LastSequence = Math.Max(copy.LastSequence, _current.LastSequence);
        Write(copy);
        _current = copy;
    }

    /// <summary>Throws unless the sequence numbers rise strictly, starting above the high-water mark.</summary>
    public void ThrowIfNotAscending(IEnumerable<long> sequences)
    {
        var last = _current.LastSequence;
        foreach (var s in sequences)
        {
            if (s <= last)
            {
                throw new InvalidOperationException(
                    $"record sequence {s} is not above the stored high-water mark {last} (sequence numbers are never reused)");
            }
            last = s;
        }
    }

    /// <summary>Moves the high-water mark to <paramref name="sequence"/> and writes the state, in the caller's transaction.</summary>
    public void Advance(long sequence)
    {
        _current.LastSequence = sequence;
        Write(_current);
    }

    /// <summary>Re-reads the stored state (after a rollback).</summary>
    public void Reload() => _current = Read();

    private void Write(DeviceState s) =>
        _state.Upsert(new BsonDocument { ["_id"] = Id, ["json"] = JsonSerializer.SerializeToUtf8Bytes(s, RecordJson.Options) });

    private DeviceState Read()
    {
        var doc = _state.FindById(Id);
        return doc is null ? new DeviceState() : JsonSerializer.Deserialize<DeviceState>(doc["json"].AsBinary, RecordJson.Options) ?? new DeviceState();
    }

    private static DeviceState Clone(DeviceState s) =>
        JsonSerializer.Deserialize<DeviceState>(JsonSerializer.SerializeToUtf8Bytes(s, RecordJson.Options), RecordJson.Options)!;
}
