namespace EdgeInspect.Sync.Mqtt;

/// <summary>What the broker said to one publish (MQTT 5 PUBACK reason codes, [MQTT-3.4.2.1]).</summary>
public enum PublishOutcome
{
    /// <summary>0x00: the broker accepted it and had at least one subscriber (or QoS 0: it was written).</summary>
    Accepted,
    /// <summary>0x10: accepted, but nobody was subscribed, so nobody will get it. Not delivery.</summary>
    NoMatchingSubscribers,
    /// <summary>Reason code 0x80 or above (quota, not authorized, payload invalid...): the broker refused it.</summary>
    Refused,
    /// <summary>Not connected, or the link failed before the acknowledgement: nothing is known.</summary>
    LinkFailed,
}
