using EdgeInspect.Core.Domain;

namespace EdgeInspect.Core.Storage;

/// <summary>
/// A volatile store for tests and for `bench pipeline` runs that must not touch the disk. Not durable:
/// the station's default run uses the LiteDB store. Thread-safe (one lock; the station writes from one stage).
/// </summary>
public sealed class InMemoryInspectionStore : IInspectionStore
{
    private readonly Lock _gate = new();
    private readonly List<InspectionRecord> _records = [];
    private readonly List<AuditEvent> _audit = [];
    private DeviceState _state = new();

    /// <summary>Stores the record in memory and advances the high-water mark and the evidence counters, like the durable store.</summary>
    public void Append(InspectionRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        lock (_gate)
        {
            record.StoreEpoch = Epoch;
            _records.Add(record);
            _state.LastSequence = Math.Max(_state.LastSequence, record.Sequence);
            if (record.Agreement is { } agreed)
            {
                _state.PairedParts++;
                if (agreed) _state.AgreedParts++;
                Storage.ModelEvidence.Count(_state.ModelEvidence, record);
            }
        }
    }

    /// <summary>This instance's store epoch (a fresh id per instance).</summary>
    public string Epoch { get; } = Guid.NewGuid().ToString("N");

    public void AppendAudit(AuditEvent auditEvent)
    {
        lock (_gate) _audit.Add(auditEvent);
    }

    public DeviceState LoadState()
    {
        lock (_gate) return Copy(_state);
    }

    public void SaveState(DeviceState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (_gate)
        {
            var copy = Copy(state);
            copy.LastSequence = Math.Max(copy.LastSequence, _state.LastSequence);
            copy.PairedParts = _state.PairedParts;
            copy.AgreedParts = _state.AgreedParts;
            copy.ModelEvidence = Storage.ModelEvidence.Copy(_state.ModelEvidence);
            _state = copy;
        }
    }

    public IEnumerable<InspectionRecord> Records(DateTimeOffset? since = null)
    {
        lock (_gate) return _records.Where(r => since is null || r.CapturedAt >= since).OrderBy(r => r.Sequence).ToList();
    }

    public IEnumerable<AuditEvent> AuditEvents(DateTimeOffset? since = null)
    {
        lock (_gate) return _audit.Where(a => since is null || a.At >= since).ToList();
    }

    public void Dispose() { }

    private static DeviceState Copy(DeviceState s) => new()
    {
        Mode = s.Mode,
        LastSequence = s.LastSequence,
        PairedParts = s.PairedParts,
        AgreedParts = s.AgreedParts,
        ModelEvidence = Storage.ModelEvidence.Copy(s.ModelEvidence),
        CarriedEvidence = Storage.ModelEvidence.Copy(s.CarriedEvidence),
        ActiveSlot = s.ActiveSlot,
        CandidateSlot = s.CandidateSlot,
        PreviousSlot = s.PreviousSlot,
        Extra = new Dictionary<string, string>(s.Extra),
    };
}
