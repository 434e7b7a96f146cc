using System.Text;
using EdgeInspect.Cloud.Ingest;
using EdgeInspect.Cloud.Ingest.Intake;
using EdgeInspect.Cloud.Ingest.Parsing;
using EdgeInspect.Fleet.Protocol.Ingest;
using Xunit;

namespace EdgeInspect.Cloud.Tests.Ingest.Parsing;

/// <summary>The records topic's two payload forms (one record's object, an array of records) as the ingest sorts them.</summary>
public sealed class MessageParserTests
{
    private static readonly IngestOptions Options = new() { ConnectionString = "Host=unused", MaxPayloadBytes = 4096, DeadLetterKeepBytes = 100 };
    private const string Topic = "edgeinspect/dev-p/records";

    private static string Record(long sequence, string device = "dev-p", string extra = "") =>
        $$"""{"deviceId":"{{device}}","storeEpoch":"e1","sequence":{{sequence}},"capturedAt":"2026-12-02T10:00:00Z","verdict":"ok"{{extra}}}""";

    private static IngestMessage Message(string payload, string topic = Topic)
    {
        var bytes = Encoding.UTF8.GetBytes(payload);
        return new IngestMessage(topic, bytes, bytes.Length, DateTimeOffset.UnixEpoch);
    }

    private static ParsedBatch Parse(params IngestMessage[] messages) => new MessageParser(Options).Parse(messages);

    [Fact]
    public void Parse_SingleRecordObject_OneRecordRowWithItsKeyAndBody()
    {
        var batch = Parse(Message(Record(7)));

        var row = Assert.Single(batch.Records);
        Assert.Equal(new RecordKey("dev-p", "e1", 7), row.Key);
        Assert.Equal(Record(7), row.Body);
        Assert.Equal("ok", row.Verdict);
        Assert.Empty(batch.DeadLetters);
    }

    [Fact]
    public void Parse_RecordsArray_EachEntryARecordRowAsIfSentAlone()
    {
        var single = Parse(Message(Record(1)), Message(Record(2)), Message(Record(3)));
        var array = Parse(Message($"[{Record(1)},{Record(2)}, {Record(3)}]"));

        Assert.Equal([1L, 2L, 3L], array.Records.Select(r => r.Key.Sequence));
        Assert.Equal(single.Records.Select(r => (r.Key, r.CapturedAt, r.Verdict, r.Body)), array.Records.Select(r => (r.Key, r.CapturedAt, r.Verdict, r.Body)));
        Assert.Empty(array.DeadLetters);
    }

    [Fact]
    public void Parse_ArrayWithBadEntries_GoodEntriesStoredEachBadOneDeadLetteredWithItsPlaceAndReason()
    {
        string[] entries =
        [
            Record(1),
            "42",
            """{"sequence":3,"capturedAt":"2026-12-02T10:00:00Z"}""",
            Record(4, device: "dev-other"),
            Record(5, extra: ""","station":"a\u0000b" """),
            """{"deviceId":"dev-p","storeEpoch":"e1","sequence":6}""",
            Record(7),
        ];

        var batch = Parse(Message("[" + string.Join(",", entries) + "]"));

        Assert.Equal([1L, 7L], batch.Records.Select(r => r.Key.Sequence));
        Assert.Equal(
            [
                "entry 2 of 7: JSON is a Number, not an object",
                "entry 3 of 7: record without deviceId",
                "entry 4 of 7: record deviceId 'dev-other' is not the topic's device 'dev-p'",
                "entry 5 of 7: JSON holds \\u0000, which PostgreSQL jsonb cannot store",
                "entry 6 of 7: record without a valid capturedAt",
            ],
            batch.DeadLetters.Select(d => d.Reason));
        // each dead letter holds its own entry, not the whole array
        Assert.Equal(entries[1..6], batch.DeadLetters.Select(d => Encoding.UTF8.GetString(d.Payload)));
        Assert.All(batch.DeadLetters, d => Assert.Equal(Topic, d.Topic));
        // the two whose key could be read are acknowledged, so the device stops sending what will never be stored
        Assert.Equal([new RecordKey("dev-p", "e1", 5), new RecordKey("dev-p", "e1", 6)], batch.DeadLetteredRecords);
    }

    [Fact]
    public void Parse_ArrayOverMaxPayloadBytes_OneDeadLetterWithItsFirstBytesNothingParsed()
    {
        var json = "[" + string.Join(",", Enumerable.Range(1, 40).Select(i => Record(i))) + "]";
        Assert.True(json.Length > Options.MaxPayloadBytes);
        var bytes = Encoding.UTF8.GetBytes(json);
        // as the intake hands it over: the size, and only the first DeadLetterKeepBytes of the payload
        var message = new IngestMessage(Topic, bytes[..Options.DeadLetterKeepBytes], bytes.Length, DateTimeOffset.UnixEpoch);

        var batch = Parse(message);

        Assert.Empty(batch.Records);
        Assert.Empty(batch.DeadLetteredRecords);
        var dead = Assert.Single(batch.DeadLetters);
        Assert.StartsWith($"oversized: {bytes.Length} bytes > Ingest:MaxPayloadBytes 4096", dead.Reason, StringComparison.Ordinal);
        Assert.Equal(Options.DeadLetterKeepBytes, dead.Payload.Length);
    }

    [Fact]
    public void Parse_EmptyArrayOrBrokenArray_OneDeadLetterEach()
    {
        var batch = Parse(Message("[]"), Message($"[{Record(1)},"));

        Assert.Empty(batch.Records);
        Assert.Equal("empty records array", batch.DeadLetters[0].Reason);
        Assert.StartsWith("not JSON", batch.DeadLetters[1].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_ArrayOnTheTelemetryTopic_DeadLetteredArraysAreForRecordsOnly()
    {
        var batch = Parse(Message($"[{Record(1)}]", "edgeinspect/dev-p/telemetry"));

        Assert.Empty(batch.Telemetry);
        Assert.Equal("JSON is a Array, not an object", Assert.Single(batch.DeadLetters).Reason);
    }

    [Fact]
    public void Parse_SingleRecordWithNulEscape_DeadLetteredWhole()
    {
        var batch = Parse(Message(Record(1, extra: ""","station":"a\u0000b" """)));

        Assert.Empty(batch.Records);
        Assert.Contains("\\u0000", Assert.Single(batch.DeadLetters).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void RecordsMessage_PackedByTheDeviceRule_ParsesBackToTheSameRecordsUnderTheByteLimit()
    {
        byte[][] records = [.. Enumerable.Range(1, 25).Select(i => Encoding.UTF8.GetBytes(Record(i)))];
        var big = Encoding.UTF8.GetBytes(Record(26, extra: $$""","note":"{{new string('x', 1500)}}" """));
        records = [.. records, big, Encoding.UTF8.GetBytes(Record(27))];
        const int maxBytes = 1400;

        var messages = new List<byte[]>();
        for (var at = 0; at < records.Length;)
        {
            var count = RecordsMessage.CountThatFit(records, r => r, at, maxRecords: 10, maxBytes);
            messages.Add(RecordsMessage.Pack(records, r => r, at, count));
            at += count;
        }
        var batch = Parse([.. messages.Select(m => new IngestMessage(Topic, m, m.Length, DateTimeOffset.UnixEpoch))]);

        Assert.Equal(Enumerable.Range(1, 27).Select(i => (long)i), batch.Records.Select(r => r.Key.Sequence));
        Assert.Empty(batch.DeadLetters);
        // every array is within the limit; the record larger than it went alone, as a single-record object
        Assert.All(messages.Where(m => m[0] == (byte)'['), m => Assert.True(m.Length <= maxBytes, $"{m.Length} bytes"));
        Assert.Contains(messages, m => m.AsSpan().SequenceEqual(big));
        Assert.True(messages.Count < records.Length / 2, $"{messages.Count} messages for {records.Length} records");
    }

    [Fact]
    public void Parse_LoneSurrogateInAnyFieldTheIngestReads_ThatMessageOrEntryDeadLetteredTheRestKept()
    {
        const string lone = "\\ud800"; // the JSON escape, as a device's serializer could write it
        var batch = Parse(
            Message($"[{Record(1)},{Record(2, extra: $$""","verdictSource":"x{{lone}}" """)},{Record(3)}]"),
            Message(Record(4, extra: $$""","modelName":"m{{lone}}" """)),
            Message($$"""{"kind":"mode{{lone}}"}""", "edgeinspect/dev-p/events"),
            Message($$"""{"state":"online","mode":"sh{{lone}}"}""", "edgeinspect/dev-p/status"),
            Message(Record(5)));

        Assert.Equal([1L, 3L, 5L], batch.Records.Select(r => r.Key.Sequence));
        Assert.Empty(batch.Events);
        Assert.Empty(batch.Status);
        Assert.Equal(4, batch.DeadLetters.Count);
        Assert.All(batch.DeadLetters, d => Assert.EndsWith("a JSON string is not text: it holds a lone UTF-16 surrogate", d.Reason));
        Assert.StartsWith("entry 2 of 3: ", batch.DeadLetters[0].Reason);
    }
}
