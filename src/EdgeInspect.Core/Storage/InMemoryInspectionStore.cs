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

    public void Append(InspectionRecord record)
    {
        lock (_gate) _records.Add(record);
    }

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
        lock (_gate) _state = Copy(state);
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
        ActiveSlot = s.ActiveSlot,
        CandidateSlot = s.CandidateSlot,
        PreviousSlot = s.PreviousSlot,
        Extra = new Dictionary<string, string>(s.Extra),
    };
}
