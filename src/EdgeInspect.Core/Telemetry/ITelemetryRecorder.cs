using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Packages;

namespace EdgeInspect.Core.Telemetry;

/// <summary>
/// What the station pipeline reports for telemetry. Every call is cheap, thread-safe and allocates
/// nothing once warm, so the capture and inspection stages can call it per frame.
/// </summary>
public interface ITelemetryRecorder
{
    /// <summary>A frame came from the source.</summary>
    void FrameCaptured();

    /// <summary>A frame was dropped (free-running source while the station was behind).</summary>
    void FrameDropped();

    /// <summary>How long one pipeline stage took for one frame ("pnet", "classifier", "total", ...).</summary>
    void StageLatency(string stage, TimeSpan elapsed);

    /// <summary>Same, in milliseconds (the unit of <c>InspectionRecord.LatencyMs</c>).</summary>
    void StageLatencyMs(string stage, double milliseconds);

    /// <summary>
    /// One part decided: the model's output class (null when the model did not run) and how many regions it found
    /// (0 = a frame with no detection).
    /// </summary>
    void PartInspected(string? outputClass, int regions);

    /// <summary>Input statistics of one frame (see <see cref="FrameStatistics.Compute(ImageBuffer)"/>).</summary>
    void InputStats(FrameStatistics stats);

    /// <summary>Computes and records the input statistics of one frame (no allocation; skipped by the null recorder).</summary>
    void InputFrame(ImageBuffer image);

    /// <summary>
    /// The drift baseline of the active model package (<see cref="ModelManifest.InputBaseline"/>); null = learn it from
    /// the first frames. Call again after a model swap.
    /// </summary>
    void SetBaseline(InputBaseline? baseline);
}

/// <summary>Records nothing: the default where telemetry is not configured (tests, `simulate`).</summary>
public sealed class NullTelemetryRecorder : ITelemetryRecorder
{
    public static readonly NullTelemetryRecorder Instance = new();

    private NullTelemetryRecorder() { }

    public void FrameCaptured() { }
    public void FrameDropped() { }
    public void StageLatency(string stage, TimeSpan elapsed) { }
    public void StageLatencyMs(string stage, double milliseconds) { }
    public void PartInspected(string? outputClass, int regions) { }
    public void InputStats(FrameStatistics stats) { }
    public void InputFrame(ImageBuffer image) { }
    public void SetBaseline(InputBaseline? baseline) { }
}
