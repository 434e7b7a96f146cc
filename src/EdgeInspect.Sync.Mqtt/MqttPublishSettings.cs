using MQTTnet.Protocol;

namespace EdgeInspect.Sync.Mqtt;

/// <summary>Publish settings; the defaults are those of records and events (QoS 1, not retained).</summary>
public sealed record MqttPublishSettings
{
    /// <summary>QoS 1, not retained: records, events, replies.</summary>
    public static readonly MqttPublishSettings AtLeastOnce = new();

    /// <summary>Delivery guarantee.</summary>
    public MqttQualityOfServiceLevel Qos { get; init; } = MqttQualityOfServiceLevel.AtLeastOnce;

    /// <summary>Whether the broker keeps it for later subscribers (the status message).</summary>
    public bool Retain { get; init; }

    /// <summary>MQTT 5 response topic.</summary>
    public string? ResponseTopic { get; init; }

    /// <summary>MQTT 5 correlation data.</summary>
    public byte[]? CorrelationData { get; init; }

    /// <summary>Payload content type.</summary>
    public string ContentType { get; init; } = "application/json";

    /// <summary>Seconds the broker may keep it for an offline subscriber; 0 = no expiry.</summary>
    public uint MessageExpirySeconds { get; init; }
}
