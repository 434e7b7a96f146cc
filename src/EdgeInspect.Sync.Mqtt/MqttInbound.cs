namespace EdgeInspect.Sync.Mqtt;

/// <summary>One inbound message, handed to a <see cref="DeviceMqttConnection.Subscribe"/> handler after the size check.</summary>
/// <param name="Topic">Full topic it arrived on.</param>
/// <param name="Payload">A copy of the payload (at most <see cref="MqttUplinkOptions.MaxPayloadBytes"/> bytes).</param>
/// <param name="ResponseTopic">MQTT 5 response topic, where the sender wants the reply ([MQTT-3.3.2.3.5]).</param>
/// <param name="CorrelationData">MQTT 5 correlation data, to be echoed on the reply unchanged.</param>
public sealed record MqttInbound(
    string Topic,
    ReadOnlyMemory<byte> Payload,
    string? ResponseTopic,
    byte[]? CorrelationData,
    string? ContentType,
    IReadOnlyList<KeyValuePair<string, string>> UserProperties);
