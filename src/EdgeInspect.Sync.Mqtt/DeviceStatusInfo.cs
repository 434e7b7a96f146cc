namespace EdgeInspect.Sync.Mqtt;

/// <summary>What the birth message says about the device (versions, mode, active model).</summary>
public sealed record DeviceStatusInfo(string? Mode, string? ActiveModel, string? ActiveModelVersion, string? SoftwareVersion)
{
    /// <summary>Fleet state (slots, candidate, model state, last events) when the fleet agent runs; null otherwise.</summary>
    public System.Text.Json.Nodes.JsonNode? Fleet { get; init; }
}
