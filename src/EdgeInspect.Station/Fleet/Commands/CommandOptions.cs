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
    /// <summary>Hard bound on remembered ids; when full (a flood inside one lifetime) new commands are refused as busy.</summary>
    public int MaxReplayEntries { get; set; } = 10_000;
    /// <summary>A handler that takes longer is cancelled and answered with "timeout", so no command stalls the control plane.</summary>
    public TimeSpan HandlerTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public void Validate()
    {
        if (MaxPayloadBytes is < 256 or > 16 * 1024 * 1024) throw new ArgumentException("Fleet:Commands:MaxPayloadBytes must be 256..16777216");
        if (MaxLifetime <= TimeSpan.Zero) throw new ArgumentException("Fleet:Commands:MaxLifetime must be positive");
        if (ClockSkew < TimeSpan.Zero) throw new ArgumentException("Fleet:Commands:ClockSkew must not be negative");
        if (MaxReplayEntries < 1) throw new ArgumentException("Fleet:Commands:MaxReplayEntries must be at least 1");
        if (HandlerTimeout <= TimeSpan.Zero) throw new ArgumentException("Fleet:Commands:HandlerTimeout must be positive");
    }
}
