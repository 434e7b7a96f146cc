using System.Text;
using EdgeInspect.Cloud.Ingest;
using EdgeInspect.Cloud.Ingest.Intake;
using EdgeInspect.Cloud.Ingest.Parsing;
using Xunit;

namespace EdgeInspect.Cloud.Tests.Ingest.Parsing;

/// <summary>
/// Device ids that are no text: a lone UTF-16 surrogate (never valid in MQTT's UTF-8, [MQTT-1.5.4-1]) in the topic's
/// device level or in a record's deviceId. Each becomes a dead letter with the reason; the rest of the batch goes on.
/// </summary>
public sealed class MessageParserDeviceIdTests
{
    private readonly MessageParser _parser = new(new IngestOptions { ConnectionString = "Host=unused" });

    private static IngestMessage Message(string topic, string json)
    {
        var bytes = Encoding.UTF8.GetBytes(json);
        return new IngestMessage(topic, bytes, bytes.Length, DateTimeOffset.UtcNow);
    }

    private static string Record(string deviceIdJson, long sequence) =>
        $$"""{"deviceId":{{deviceIdJson}},"storeEpoch":"e1","sequence":{{sequence}},"capturedAt":"2026-12-02T10:00:00Z","verdict":"ok"}""";

    [Fact]
    public void Parse_RecordDeviceIdWithEscapedLoneSurrogate_DeadLetteredWithReasonOthersKept()
    {
        var batch = _parser.Parse([
            Message("edgeinspect/dev-1/records", Record("\"dev-1\"", 1)),
            Message("edgeinspect/dev-1/records", Record("\"dev-\\ud800\"", 2)),
            Message("edgeinspect/dev-1/records", Record("\"dev-1\"", 3)),
        ]);

        Assert.Equal([1L, 3L], batch.Records.Select(r => r.Key.Sequence));
        var dead = Assert.Single(batch.DeadLetters);
        Assert.Equal("record deviceId is not text: it holds a lone UTF-16 surrogate", dead.Reason);
    }

    [Theory]
    [InlineData("records")]
    [InlineData("telemetry")]
    [InlineData("status")]
    public void Parse_TopicDeviceWithLoneSurrogate_DeadLetteredWithReason(string kind)
    {
        var device = "dev-\ud800";

        var batch = _parser.Parse([Message($"edgeinspect/{device}/{kind}", Record("\"dev-\\ud800\"", 1))]);

        Assert.Empty(batch.Records);
        Assert.Empty(batch.Telemetry);
        Assert.Empty(batch.Status);
        var dead = Assert.Single(batch.DeadLetters);
        Assert.Equal("topic is not edgeinspect/<device>/<kind>", dead.Reason);
        Assert.Equal($"edgeinspect/dev-\uFFFD/{kind}", dead.Topic); // storable: the surrogate replaced

    }
}
