using EdgeInspect.Core.Automation;

namespace EdgeInspect.Station.Configuration;

/// <summary>The "Device" section: who this station is (the id goes into MQTT topics and every record).</summary>
public sealed class DeviceOptions
{
    /// <summary>The section name in a profile.</summary>
    public const string SectionName = "Device";

    /// <summary>Device id: one MQTT topic level, and with the sequence the cloud's dedupe key.</summary>
    public string Id { get; set; } = "dev-001";

    /// <summary>Station name on the line, carried in each record.</summary>
    public string Station { get; set; } = "station-1";

    /// <summary>Throws <see cref="ConfigValueException"/> naming the first bad key.</summary>
    public void Validate()
    {
        ConfigCheck.Need(!string.IsNullOrWhiteSpace(Id) && Id.IndexOfAny(['+', '#', '/']) < 0, "Device:Id",
            "must be non-empty with no '+', '#' or '/' (it goes into MQTT topics)");
        ConfigCheck.Need(!string.IsNullOrWhiteSpace(Station), "Device:Station", "must be non-empty");
    }
}
