namespace EdgeInspect.Core.Telemetry;

/// <summary>Frame and part counts of one interval, and their rates per second.</summary>
public sealed record FrameTelemetry(long Captured, long Dropped, long Inspected, double FrameRate, double PartRate, double DropRate);

/// <summary>What the model said over one interval: parts per output class and frames with no detection.</summary>
public sealed record OutputTelemetry(long Parts, IReadOnlyDictionary<string, long> Classes, long NoDetection, double? NoDetectionFraction);

/// <summary>Evictions by reason (<c>EvictionPolicy.ReasonNames</c>): since the store was created, and since the previous snapshot.</summary>
public sealed record EvictionTelemetry(IReadOnlyDictionary<string, long> Total, IReadOnlyDictionary<string, long> SinceLast, long EvictedUnsent);

/// <summary>
/// One telemetry message (stored and published on <c>&lt;prefix&gt;/&lt;device&gt;/telemetry</c> as camelCase JSON).
/// </summary>
public sealed record TelemetrySnapshot(
    string DeviceId,
    DateTimeOffset At,
    double IntervalSeconds,
    FrameTelemetry Frames,
    IReadOnlyDictionary<string, LatencyPercentiles> LatencyMs,
    ProcessTelemetry Process,
    InputTelemetry Input,
    OutputTelemetry Output)
{
    public EvictionTelemetry? Evictions { get; init; }

    /// <summary>Records the uplink has parked (the broker kept refusing them): kept in the store, not sent. Null without a store that keeps them.</summary>
    public long? ParkedRecords { get; init; }

    /// <summary>Part images captured, dropped, evicted, uploaded and pending on the device. Null when capture is off.</summary>
    public PartImageTelemetry? Images { get; init; }

    /// <summary>Names of the alarms active after this snapshot was evaluated.</summary>
    public IReadOnlyList<string> ActiveAlarms { get; init; } = [];

    /// <summary>
    /// The snapshot as flat metric names, what alarm rules refer to: frameRate, partRate, dropRate, framesDropped,
    /// cpuPercent, workingSetMB, gcHeapMB, temperatureC, brightness, contrast, sharpness, driftScore, brightnessDrift,
    /// contrastDrift, sharpnessDrift, noDetectionFraction, latency.&lt;stage&gt;.p50|p95|p99|max,
    /// class.&lt;name&gt;.fraction, evictions (since the previous snapshot), evictions.&lt;reason&gt;, parkedRecords, images.captured,
    /// images.dropped, images.evicted, images.uploaded (since the station started), images.pending, images.pendingBytes. Metrics without a
    /// value in this interval (no sensor, no frames) are absent.
    /// </summary>
    public IReadOnlyDictionary<string, double> Metrics()
    {
        var m = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["frameRate"] = Frames.FrameRate,
            ["partRate"] = Frames.PartRate,
            ["dropRate"] = Frames.DropRate,
            ["framesDropped"] = Frames.Dropped,
            ["workingSetMB"] = Process.WorkingSetMB,
            ["gcHeapMB"] = Process.GcHeapMB,
        };
        void Put(string key, double? value)
        {
            if (value is { } v) m[key] = v;
        }
        Put("cpuPercent", Process.CpuPercent);
        Put("temperatureC", Process.TemperatureC);
        Put("brightness", Input.Brightness);
        Put("contrast", Input.Contrast);
        Put("sharpness", Input.Sharpness);
        Put("driftScore", Input.DriftScore);
        Put("brightnessDrift", Input.BrightnessDrift);
        Put("contrastDrift", Input.ContrastDrift);
        Put("sharpnessDrift", Input.SharpnessDrift);
        Put("noDetectionFraction", Output.NoDetectionFraction);
        foreach (var (stage, p) in LatencyMs)
        {
            m[$"latency.{stage}.p50"] = p.P50;
            m[$"latency.{stage}.p95"] = p.P95;
            m[$"latency.{stage}.p99"] = p.P99;
            m[$"latency.{stage}.max"] = p.Max;
        }
        if (Output.Parts > 0)
        {
            foreach (var (cls, n) in Output.Classes) m[$"class.{cls}.fraction"] = (double)n / Output.Parts;
        }
        if (ParkedRecords is { } parked) m["parkedRecords"] = parked;
        if (Images is { } images)
        {
            m["images.captured"] = images.Captured;
            m["images.dropped"] = images.Dropped;
            m["images.evicted"] = images.Evicted;
            m["images.uploaded"] = images.Uploaded;
            m["images.pending"] = images.Pending;
            m["images.pendingBytes"] = images.PendingBytes;
        }
        if (Evictions is { } e)
        {
            m["evictions"] = e.SinceLast.Values.Sum();
            foreach (var (reason, n) in e.SinceLast) m[$"evictions.{reason}"] = n;
        }
        return m;
    }
}
