using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;
using LiteDB;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace EdgeInspect.Storage.LiteDb.Collections;

/// <summary>
/// The persisted <see cref="DeviceState"/> (the "device" document of the state collection), cached in memory. It holds
/// the sequence high-water mark, which only moves forward so that a sequence number is never handed out twice, and the
/// gate's evidence counters (paired and agreed parts), advanced in the same transaction as the records so that start-up
/// reads no records. The "epoch" document beside it holds the file's store epoch, written once when the file is created.
/// <para>Not thread-safe: the store calls it under its one lock.</para>
/// </summary>
internal sealed class DeviceStateDocument
{
    /// <summary>The document's id in <see cref="StoreSchema.State"/>.</summary>
    public const string Id = "device";

    /// <summary>The id of the document holding the store epoch.</summary>
    public const string EpochId = "epoch";

    // Marks a state whose evidence counters cover every stored record; a file written before they existed lacks it.
    // Its value is the counters' generation: 2 since the evidence is also kept per model, so a file at 1 is counted again.
    private const string EvidenceKey = "evidence";
    private const int EvidenceGeneration = 2;

    private readonly ILiteCollection<BsonDocument> _state;
    private DeviceState _current;

    /// <summary>Reads the state; a fresh one when none is stored.</summary>
    /// <summary>Reads the state and the store epoch, giving the file an epoch when it has none (a new file).</summary>
    public DeviceStateDocument(LiteDatabase db)
    {
        _state = db.GetCollection(StoreSchema.State);
        _current = Read();
        var epoch = _state.FindById(EpochId);
        if (epoch is null)
        {
            Epoch = Guid.NewGuid().ToString("N");
            _state.Upsert(new BsonDocument { ["_id"] = EpochId, ["epoch"] = Epoch });
        }
        else
        {
            Epoch = epoch["epoch"].AsString;
        }
        var doc = _state.FindById(Id);
        NeedsEvidenceCount = doc is not null && (!doc.ContainsKey(EvidenceKey) || !doc[EvidenceKey].IsInt32 || doc[EvidenceKey].AsInt32 < EvidenceGeneration);
    }

    /// <summary>This file's store epoch (32 hex digits).</summary>
    public string Epoch { get; }

    /// <summary>True when the stored state predates the evidence counters: the store counts them once over its records.</summary>
    public bool NeedsEvidenceCount { get; private set; }

    /// <summary>The sequence high-water mark: the last sequence number stored.</summary>
    public long LastSequence => _current.LastSequence;

    /// <summary>A copy of the state.</summary>
    public DeviceState Load() => Clone(_current);

    /// <summary>Writes a copy of <paramref name="state"/>, keeping the higher of its and the stored high-water mark (not made durable here).</summary>
    public void Save(DeviceState state)
    {
        var copy = Clone(state);
        // A stale copy of the state must not let a sequence be reused, nor move the evidence (the store's own count).
        copy.LastSequence = Math.Max(copy.LastSequence, _current.LastSequence);
        copy.PairedParts = _current.PairedParts;
        copy.AgreedParts = _current.AgreedParts;
        copy.ModelEvidence = ModelEvidence.Copy(_current.ModelEvidence);
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

    /// <summary>
    /// Moves the high-water mark to <paramref name="sequence"/>, adds the evidence of <paramref name="records"/> (the
    /// records stored with it: paired parts, in total and per model), and writes the state, in the caller's transaction.
    /// </summary>
    public void Advance(long sequence, IReadOnlyList<InspectionRecord>? records = null)
    {
        _current.LastSequence = Math.Max(_current.LastSequence, sequence);
        if (records is not null)
        {
            for (var i = 0; i < records.Count; i++)
            {
                var r = records[i];
                if (!ModelEvidence.Count(_current.ModelEvidence, r)) continue;
                _current.PairedParts++;
                if (r.Agreement == true) _current.AgreedParts++;
            }
        }
        Write(_current);
    }

    /// <summary>Replaces the evidence counters (a count over the stored records, in total and per model) and writes the state.</summary>
    public void SetEvidence(long paired, long agreed, List<ModelEvidence> perModel)
    {
        _current.PairedParts = paired;
        _current.AgreedParts = agreed;
        _current.ModelEvidence = perModel;
        Write(_current);
        NeedsEvidenceCount = false;
    }

    /// <summary>Takes a salvaged state (mode, model slots, counters) into this file, keeping the higher high-water mark.</summary>
    public void Restore(DeviceState salvaged, long highestSequence)
    {
        var copy = Clone(salvaged);
        copy.LastSequence = Math.Max(Math.Max(copy.LastSequence, highestSequence), _current.LastSequence);
        Write(copy);
        _current = copy;
    }

    /// <summary>Re-reads the stored state (after a rollback).</summary>
    public void Reload() => _current = Read();

    private void Write(DeviceState s) =>
        _state.Upsert(new BsonDocument { ["_id"] = Id, ["json"] = JsonSerializer.SerializeToUtf8Bytes(s, RecordJson.Options), [EvidenceKey] = EvidenceGeneration });

    private DeviceState Read()
    {
        var doc = _state.FindById(Id);
        return doc is null ? new DeviceState() : JsonSerializer.Deserialize<DeviceState>(doc["json"].AsBinary, RecordJson.Options) ?? new DeviceState();
    }

    private static DeviceState Clone(DeviceState s) =>
        JsonSerializer.Deserialize<DeviceState>(JsonSerializer.SerializeToUtf8Bytes(s, RecordJson.Options), RecordJson.Options)!;
}
