using System.Text;
using System.Text.Json;
using EdgeInspect.Cloud.Ingest.Intake;
using EdgeInspect.Fleet.Protocol.Ingest;
using EdgeInspect.Fleet.Protocol.Topics;

namespace EdgeInspect.Cloud.Ingest.Parsing;

/// <summary>
/// Sorts messages into table rows by topic (<c>&lt;prefix&gt;/&lt;device&gt;/&lt;kind&gt;</c>) and checks each: a payload
/// over the size limit, not JSON, a record without its key, a record whose deviceId is not the topic's device, or JSON
/// PostgreSQL's jsonb cannot hold (<c>\u0000</c>) becomes a dead letter with the reason. Never throws for a bad message.
/// A records message is one record's object or an array of them (<see cref="RecordsMessage"/>): each entry of an array
/// is checked alone, so a bad entry is one dead letter (named by its place in the array) and the good ones are stored.
/// </summary>
public sealed class MessageParser(IngestOptions options)
{
    private readonly string _prefix = options.TopicPrefix + "/";

    /// <summary>Sorts <paramref name="messages"/> into a new batch.</summary>
    public ParsedBatch Parse(IReadOnlyList<IngestMessage> messages)
    {
        var batch = new ParsedBatch();
        foreach (var m in messages) Add(batch, m);
        return batch;
    }

    private void Add(ParsedBatch batch, IngestMessage m)
    {
        void Dead(string reason) => batch.DeadLetters.Add(new DeadLetter(m.Topic, reason, m.Size, m.Payload, m.ReceivedAt));
        if (!m.Topic.StartsWith(_prefix, StringComparison.Ordinal) || m.Topic[_prefix.Length..].Split('/') is not [var device, var kind]
            || !MqttTopics.IsValidId(device))
        {
            // The dead letter keeps a topic PostgreSQL can store: a lone surrogate has no UTF-8 and would fail the batch.
            batch.DeadLetters.Add(new DeadLetter(MqttTopics.HasLoneSurrogate(m.Topic) ? Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(m.Topic)) : m.Topic,
                $"topic is not {_prefix}<device>/<kind>", m.Size, m.Payload, m.ReceivedAt));
            return;
        }
        if (m.Size > options.MaxPayloadBytes)
        {
            Dead($"oversized: {m.Size} bytes > Ingest:MaxPayloadBytes {options.MaxPayloadBytes} (first {m.Payload.Length} bytes kept)");
            return;
        }
        // An array's entries are checked one by one (AddRecords), so one bad entry does not cost the others.
        var maybeArray = kind == "records" && FirstToken(m.Payload) == (byte)'[';
        if (!maybeArray && m.Payload.AsSpan().IndexOf(NulEscape) >= 0)
        {
            Dead(NulReason);
            return;
        }
        JsonDocument doc;
        try { doc = JsonDocument.Parse(m.Payload); }
        catch (JsonException e)
        {
            Dead("not JSON: " + e.Message);
            return;
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (maybeArray && root.ValueKind == JsonValueKind.Array)
            {
                AddRecords(batch, m, device, root);
                return;
            }
            if (root.ValueKind != JsonValueKind.Object)
            {
                Dead($"JSON is a {root.ValueKind}, not an object");
                return;
            }
            var body = Encoding.UTF8.GetString(m.Payload);
            try { AddObject(batch, m, device, kind, root, body, Dead); }
            catch (InvalidOperationException) { Dead(NotTextReason); }
        }
    }

    /// <summary>One message's object by its topic's kind; a field the ingest reads may throw (see <see cref="NotTextReason"/>).</summary>
    private static void AddObject(ParsedBatch batch, IngestMessage m, string device, string kind, JsonElement root, string body, Action<string> dead)
    {
        switch (kind)
        {
            case "records":
                AddRecord(batch, m, device, root, body, dead);
                break;
            case "telemetry":
                batch.Telemetry.Add(new JsonRow(device, m.ReceivedAt, null, body));
                break;
            case "events":
                batch.Events.Add(new JsonRow(device, m.ReceivedAt, Str(root, "kind"), body));
                break;
            case "status":
                batch.Status[device] = new StatusRow(device, Str(root, "state"), Str(root, "mode"), Str(root, "activeModel"),
                    Str(root, "activeModelVersion"), Str(root, "softwareVersion"), m.ReceivedAt, body);
                break;
            default:
                dead($"unknown kind '{kind}'");
                break;
        }
    }

    /// <summary>The entries of a records array, each as if it had come alone; a bad one is a dead letter of its own with its place in the array.</summary>
    private static void AddRecords(ParsedBatch batch, IngestMessage m, string device, JsonElement array)
    {
        var count = array.GetArrayLength();
        if (count == 0)
        {
            batch.DeadLetters.Add(new DeadLetter(m.Topic, "empty records array", m.Size, m.Payload, m.ReceivedAt));
            return;
        }
        var index = 0;
        foreach (var entry in array.EnumerateArray())
        {
            index++;
            var body = entry.GetRawText();
            var at = index;
            void Dead(string reason)
            {
                var bytes = Encoding.UTF8.GetBytes(body);
                batch.DeadLetters.Add(new DeadLetter(m.Topic, $"entry {at} of {count}: {reason}", bytes.Length, bytes, m.ReceivedAt));
            }
            if (entry.ValueKind != JsonValueKind.Object)
            {
                Dead($"JSON is a {entry.ValueKind}, not an object");
                continue;
            }
            try
            {
                if (body.Contains(NulText, StringComparison.Ordinal))
                {
                    // The key is read anyway: a record jsonb will never hold is acknowledged, so its device stops sending it.
                    if (Key(entry, device) is { } key) batch.DeadLetteredRecords.Add(key);
                    Dead(NulReason);
                    continue;
                }
                AddRecord(batch, m, device, entry, body, Dead);
            }
            catch (InvalidOperationException) { Dead(NotTextReason); }
        }
    }

    /// <summary>The record's key when its deviceId is the topic's device and it has a sequence number; else null.</summary>
    private static RecordKey? Key(JsonElement record, string device) =>
        Str(record, "deviceId") == device && record.TryGetProperty("sequence", out var s) && s.ValueKind == JsonValueKind.Number
        && s.TryGetInt64(out var sequence) && sequence >= 1
            ? new RecordKey(device, Str(record, "storeEpoch") ?? "", sequence)
            : null;

    /// <summary>The first byte that is not JSON whitespace (RFC 8259, section 2), or 0.</summary>
    private static byte FirstToken(byte[] payload)
    {
        foreach (var b in payload)
        {
            if (b is not ((byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\r')) return b;
        }
        return 0;
    }

    private static ReadOnlySpan<byte> NulEscape => "\\u0000"u8;
    private const string NulText = "\\u0000";
    private const string NulReason = "JSON holds \\u0000, which PostgreSQL jsonb cannot store";
    // JsonElement.GetString throws InvalidOperationException on an escaped lone UTF-16 surrogate ("\ud800"): valid JSON,
    // but no text, so no field the ingest reads may hold one.
    private const string NotTextReason = "a JSON string is not text: it holds a lone UTF-16 surrogate";

    private static void AddRecord(ParsedBatch batch, IngestMessage m, string device, JsonElement root, string body, Action<string> dead)
    {
        string? deviceId;
        // An escaped lone surrogate ("\ud800") is valid JSON but no text: reading it as a string throws.
        try { deviceId = Str(root, "deviceId"); }
        catch (InvalidOperationException)
        {
            dead("record deviceId is not text: it holds a lone UTF-16 surrogate");
            return;
        }
        if (deviceId is null)
        {
            dead("record without deviceId");
            return;
        }
        if (deviceId != device)
        {
            dead($"record deviceId '{deviceId}' is not the topic's device '{device}'");
            return;
        }
        if (!root.TryGetProperty("sequence", out var s) || s.ValueKind != JsonValueKind.Number || !s.TryGetInt64(out var sequence) || sequence < 1)
        {
            dead("record without a sequence number >= 1");
            return;
        }
        var epoch = Str(root, "storeEpoch") ?? "";
        if (Time(root, "capturedAt") is not { } captured)
        {
            dead("record without a valid capturedAt");
            batch.DeadLetteredRecords.Add(new RecordKey(device, epoch, sequence));
            return;
        }
        float? confidence = root.TryGetProperty("modelConfidence", out var c) && c.ValueKind == JsonValueKind.Number ? c.GetSingle() : null;
        batch.Records.Add(new RecordRow(new RecordKey(device, epoch, sequence), captured, Time(root, "decidedAt"), m.ReceivedAt, Str(root, "station"),
            Str(root, "mode"), Str(root, "modelName"), Str(root, "modelVersion"), Str(root, "verdict"), Str(root, "verdictSource"),
            Str(root, "modelVerdict"), Str(root, "humanVerdict"), confidence, body));
    }

    private static string? Str(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static DateTimeOffset? Time(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && v.TryGetDateTimeOffset(out var t) ? t : null;
}
