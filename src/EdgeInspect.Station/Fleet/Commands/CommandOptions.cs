namespace EdgeInspect.Station.Fleet.Commands;

/// <summary>Device command limits (config section "Fleet:Commands").</summary>
public sealed class CommandOptions
{
    /// <summary>Payloads above this are refused before any parsing (ARCHITECTURE.md "MQTT").</summary>
    public int MaxPayloadBytes { get; set; } = 16 * 1024;

    /// <summary>Longest expiry a command may ask for; also how long its id is remembered against replay.</summary>
    public TimeSpan MaxLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Tolerated clock difference between the fleet tool and the device.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Bound on remembered ids per operator key; when one key's is full (a flood inside one lifetime) that key's new
    /// commands are refused as busy while the other keys' are still taken.
    /// </summary>
    public int MaxReplayEntries { get; set; } = 10_000;

    /// <summary>A handler that takes longer is cancelled and answered with "timeout", so no command stalls the control plane.</summary>
    public TimeSpan HandlerTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Commands waiting per operator key (and for unauthenticated ones together); a full queue answers "busy" at once,
    /// so a burst from one key never delays another key's commands nor the MQTT receive loop.
    /// </summary>
    public int QueuePerKey { get; set; } = 32;

    /// <summary>
    /// MQTT topic filter every response topic must match; a command asking for its reply anywhere else is dropped
    /// unanswered and counted. Default <c>&lt;prefix&gt;/fleet/+/replies</c> (where edgeinspect-fleet listens).
    /// </summary>
    public string? ReplyTopicFilter { get; set; }

    /// <summary>Throws naming the first bad key.</summary>
    public void Validate()
    {
        if (MaxPayloadBytes is < 256 or > 16 * 1024 * 1024) throw new ArgumentException("Fleet:Commands:MaxPayloadBytes must be 256..16777216");
        if (MaxLifetime <= TimeSpan.Zero) throw new ArgumentException("Fleet:Commands:MaxLifetime must be positive");
        if (ClockSkew < TimeSpan.Zero) throw new ArgumentException("Fleet:Commands:ClockSkew must not be negative");
        if (MaxReplayEntries < 1) throw new ArgumentException("Fleet:Commands:MaxReplayEntries must be at least 1");
        if (HandlerTimeout <= TimeSpan.Zero) throw new ArgumentException("Fleet:Commands:HandlerTimeout must be positive");
        if (QueuePerKey is < 1 or > 10_000) throw new ArgumentException("Fleet:Commands:QueuePerKey must be 1..10000");
        if (ReplyTopicFilter is { } f && (f.Length == 0 || f.Contains('\0') || f == "#" || f.StartsWith('$')))
            throw new ArgumentException("Fleet:Commands:ReplyTopicFilter must be a topic filter narrower than '#' and not under '$'");
    }
}
