using System.Text.Json;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Storage;
using EdgeInspect.Core.Telemetry;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Configuration;
using EdgeInspect.Station.Fleet;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.Sync.Mqtt;
using EdgeInspect.Sync.Mqtt.Telemetry;
using EdgeInspect.Web.Live;
using EdgeInspect.Web.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EdgeInspect.Web;

/// <summary>
/// The station's own singletons as the page reads them, resolved from the station's container when first asked
/// (the engine takes this module's part observers, so nothing here is resolved while the engine is being built).
/// The page writes only through <see cref="ModeController.TrySetMode"/>: the station's store keeps its one writer.
/// </summary>
public sealed class StationContext(IServiceProvider station, WebOptions options, LiveFrameObserver live, LiveFrameEncoder encoder, StationMetrics metrics)
{
    /// <summary>The "Web" section.</summary>
    public WebOptions Options => options;

    /// <summary>The copy of the newest part.</summary>
    public LiveFrameObserver Live => live;

    /// <summary>The encoded live frames.</summary>
    public LiveFrameEncoder Encoder => encoder;

    /// <summary>Part and latency counters.</summary>
    public StationMetrics Metrics => metrics;

    /// <summary>The station's clock.</summary>
    public TimeProvider Time => station.GetRequiredService<TimeProvider>();

    /// <summary>The one gated, audited path for mode changes.</summary>
    public ModeController Modes => station.GetRequiredService<ModeController>();

    /// <summary>The pipeline's engine (counters, the active model's host).</summary>
    public StationEngine Engine => station.GetRequiredService<StationEngine>();

    /// <summary>The local store.</summary>
    public IInspectionStore Store => station.GetRequiredService<IInspectionStore>();

    /// <summary>The LiteDB store when that is the store (statistics, telemetry snapshots).</summary>
    public LiteDbInspectionStore? LiteDb => station.GetService<LiteDbInspectionStore>();

    /// <summary>The gate as the mode controller applies it (from the profile's Automation section).</summary>
    public AutomationGate Gate => new(station.GetRequiredService<IOptions<AutomationOptions>>().Value.Gate);

    /// <summary>The broker connection, or null when the station has no uplink.</summary>
    public DeviceMqttConnection? Uplink => station.GetService<DeviceMqttConnection>();

    /// <summary>The telemetry publisher (open alarms), or null without telemetry.</summary>
    public TelemetryPublisher? Telemetry => station.GetService<TelemetryPublisher>();

    /// <summary>The fleet agent (model slots), or null without a Fleet section.</summary>
    public FleetAgent? Fleet => station.GetService<FleetAgent>();

    /// <summary>Stored telemetry snapshots taken at or after <paramref name="since"/>, oldest first.</summary>
    public IReadOnlyList<TelemetrySnapshot> Snapshots(DateTimeOffset since)
    {
        if (LiteDb is not { } store) return [];
        var list = new List<TelemetrySnapshot>();
        foreach (var json in store.TelemetrySnapshots(since))
        {
            try
            {
                if (JsonSerializer.Deserialize<TelemetrySnapshot>(json, RecordJson.Options) is { } s) list.Add(s);
            }
            catch (JsonException) { /* a snapshot from another version: skipped, the chart shows the rest */ }
        }
        return list;
    }
}
