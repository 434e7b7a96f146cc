namespace EdgeInspect.Cloud.Ingest.Intake;

/// <summary>One message as received: its topic, its payload (or the first bytes of an oversized one) and its full size.</summary>
public sealed record IngestMessage(string Topic, byte[] Payload, int Size, DateTimeOffset ReceivedAt);
