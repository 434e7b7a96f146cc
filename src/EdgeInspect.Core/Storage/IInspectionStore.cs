using EdgeInspect.Core.Domain;

namespace EdgeInspect.Core.Storage;

/// <summary>
/// The local store the station writes to first (ARCHITECTURE.md, "Local store").
/// <see cref="Append"/> returns only once the record is durable on disk.
/// </summary>
public interface IInspectionStore : IDisposable
{
    /// <summary>Durably store one record; the caller may report it stored when this returns.</summary>
    void Append(InspectionRecord record);

    /// <summary>
    /// Durably stores several records, in order. A store may commit them together (one fsync for the group);
    /// when this returns, all of them are durable.
    /// </summary>
    void AppendMany(IReadOnlyList<InspectionRecord> records)
    {
        foreach (var r in records) Append(r);
    }

    /// <summary>Durably store an audit event (mode change, model change, alarm, eviction, ...).</summary>
    void AppendAudit(AuditEvent auditEvent);

    /// <summary>Reads the persisted device state (mode, model slots, sequence counter); a fresh state when none.</summary>
    DeviceState LoadState();

    /// <summary>
    /// Durably replaces the device state. The sequence high-water mark and the evidence counters are the store's: a copy
    /// never moves them back.
    /// </summary>
    void SaveState(DeviceState state);

    /// <summary>Records in sequence order, optionally only those captured at or after <paramref name="since"/>.</summary>
    IEnumerable<InspectionRecord> Records(DateTimeOffset? since = null);

    IEnumerable<AuditEvent> AuditEvents(DateTimeOffset? since = null);
}

/// <summary>Who changed what, when, from which interface, and why.</summary>
public sealed record AuditEvent(
    DateTimeOffset At,
    string Kind,
    string Actor,
    string Source,
    string? From,
    string? To,
    string? Reason);

/// <summary>State that must survive a restart.</summary>
public sealed class DeviceState
{
    public AutomationMode Mode { get; set; } = AutomationMode.Shadow;
    /// <summary>Last sequence number stored; the next record gets LastSequence + 1. The store advances it in the same write as the records.</summary>
    public long LastSequence { get; set; }
    /// <summary>Stored parts with both a human and a model verdict (the gate's evidence), kept by the store with the records so start-up reads no records.</summary>
    public long PairedParts { get; set; }
    /// <summary>Of <see cref="PairedParts"/>, those where the human and the model agreed.</summary>
    public long AgreedParts { get; set; }
    /// <summary>
    /// <see cref="PairedParts"/> and <see cref="AgreedParts"/> per model (name and version), counted by the store with the
    /// records like them: the gate counts only the active model's. A copy saved back never moves them.
    /// </summary>
    public List<ModelEvidence> ModelEvidence { get; set; } = [];
    /// <summary>
    /// Evidence a model brought with it from outside its own records: a candidate's three-way shadow (its verdicts
    /// against the human's on live parts) carried over at its promotion. Written by whoever promotes, through
    /// <see cref="IInspectionStore.SaveState"/>; the gate adds it to <see cref="ModelEvidence"/>.
    /// </summary>
    public List<ModelEvidence> CarriedEvidence { get; set; } = [];
    /// <summary>Model slot folders ("a" / "b") and which is active.</summary>
    public string? ActiveSlot { get; set; }
    public string? CandidateSlot { get; set; }
    public string? PreviousSlot { get; set; }
    public Dictionary<string, string> Extra { get; set; } = [];
}
