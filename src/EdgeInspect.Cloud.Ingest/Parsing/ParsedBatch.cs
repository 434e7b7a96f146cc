namespace EdgeInspect.Cloud.Ingest.Parsing;

/// <summary>One batch of messages sorted into the rows of each table; what could not be taken is in <see cref="DeadLetters"/>.</summary>
public sealed class ParsedBatch
{
    public List<RecordRow> Records { get; } = [];
    public List<JsonRow> Telemetry { get; } = [];
    public List<JsonRow> Events { get; } = [];
    /// <summary>The latest status per device in this batch.</summary>
    public Dictionary<string, StatusRow> Status { get; } = [];
    public List<DeadLetter> DeadLetters { get; } = [];
    /// <summary>Records that went to the dead-letter table but whose key could be read: acknowledged too, so the device stops re-sending them.</summary>
    public List<RecordKey> DeadLetteredRecords { get; } = [];

    public int Count => Records.Count + Telemetry.Count + Events.Count + Status.Count + DeadLetters.Count;
}

/// <summary>(device, store epoch, sequence): the record's dedupe key.</summary>
public readonly record struct RecordKey(string DeviceId, string Epoch, long Sequence);

/// <summary>One inspection record's columns; <see cref="Body"/> is its JSON as received.</summary>
public sealed record RecordRow(
    RecordKey Key, DateTimeOffset CapturedAt, DateTimeOffset? DecidedAt, DateTimeOffset ReceivedAt, string? Station, string? Mode,
    string? ModelName, string? ModelVersion, string? Verdict, string? VerdictSource, string? ModelVerdict, string? HumanVerdict,
    float? ModelConfidence, string Body);

/// <summary>A telemetry snapshot or an event: device, time received, kind (events), JSON.</summary>
public sealed record JsonRow(string DeviceId, DateTimeOffset ReceivedAt, string? Kind, string Body);

/// <summary>A device's birth or death message.</summary>
public sealed record StatusRow(string DeviceId, string? State, string? Mode, string? ActiveModel, string? ActiveModelVersion,
    string? SoftwareVersion, DateTimeOffset ReceivedAt, string Body);

/// <summary>A message the ingest could not take, with the reason.</summary>
public sealed record DeadLetter(string Topic, string Reason, int Size, byte[] Payload, DateTimeOffset ReceivedAt);
