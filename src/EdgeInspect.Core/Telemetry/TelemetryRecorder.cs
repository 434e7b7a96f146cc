using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Packages;

namespace EdgeInspect.Core.Telemetry;

/// <summary>
/// Aggregates what the station reports (<see cref="ITelemetryRecorder"/>) into one <see cref="TelemetrySnapshot"/> per
/// interval: latency percentiles per stage, frame / part / drop rates, input statistics and drift, output class
/// distribution and the fraction of frames with no detection, plus process CPU, memory and temperature.
/// <para>
/// Per-frame calls take a short lock or an interlocked add and allocate nothing once each stage and class name has
/// been seen (the per-stage reservoirs and class counters are reused across intervals); <see cref="TakeSnapshot"/>,
/// once per interval, allocates the message.
/// </para>
/// </summary>
public sealed class TelemetryRecorder : ITelemetryRecorder
{
    private readonly string _deviceId;
    private readonly TimeProvider _time;
    private readonly ProcessMetrics _process;
    private readonly Lock _latencyGate = new();
    private readonly Dictionary<string, LatencyReservoir> _latency = new(StringComparer.Ordinal);
    private readonly Lock _outputGate = new();
    private readonly Dictionary<string, long> _classes = new(StringComparer.Ordinal);
    private readonly Lock _inputGate = new();
    private readonly InputDrift _drift;
    private long _captured, _dropped, _inspected, _noDetection;
    private long _intervalStart;

    public TelemetryRecorder(string deviceId, TimeProvider? time = null, int baselineFrames = 500, string thermalRoot = "/sys/class/thermal")
    {
        _deviceId = deviceId;
        _time = time ?? TimeProvider.System;
        _process = new ProcessMetrics(_time, thermalRoot);
        _drift = new InputDrift(baselineFrames);
        _intervalStart = _time.GetTimestamp();
        _process.Sample(); // CPU is a difference: start counting now
    }

    public void FrameCaptured() => Interlocked.Increment(ref _captured);

    public void FrameDropped() => Interlocked.Increment(ref _dropped);

    public void StageLatency(string stage, TimeSpan elapsed) => StageLatencyMs(stage, elapsed.TotalMilliseconds);

    public void StageLatencyMs(string stage, double milliseconds)
    {
        ArgumentNullException.ThrowIfNull(stage);
        lock (_latencyGate)
        {
            if (!_latency.TryGetValue(stage, out var r)) _latency[stage] = r = new LatencyReservoir();
            r.Add(milliseconds);
        }
    }

    public void PartInspected(string? outputClass, int regions)
    {
        Interlocked.Increment(ref _inspected);
        if (outputClass is null) return; // the model did not run: no output to describe
        lock (_outputGate)
        {
            _classes[outputClass] = _classes.GetValueOrDefault(outputClass) + 1;
            if (regions == 0) _noDetection++;
        }
    }

    public void InputStats(FrameStatistics stats)
    {
        lock (_inputGate) _drift.Add(stats);
    }

    public void InputFrame(ImageBuffer image) => InputStats(FrameStatistics.Compute(image));

    public void SetBaseline(InputBaseline? baseline)
    {
        lock (_inputGate) _drift.SetBaseline(baseline);
    }

    /// <summary>The current drift baseline (null while it is still being learned).</summary>
    public DriftBaseline? Baseline
    {
        get { lock (_inputGate) return _drift.Baseline; }
    }

    /// <summary>Everything since the previous snapshot (or the start), and starts the next interval.</summary>
    public TelemetrySnapshot TakeSnapshot()
    {
        var now = _time.GetTimestamp();
        var seconds = Math.Max(_time.GetElapsedTime(_intervalStart, now).TotalSeconds, 1e-9);
        _intervalStart = now;
        var captured = Interlocked.Exchange(ref _captured, 0);
        var dropped = Interlocked.Exchange(ref _dropped, 0);
        var inspected = Interlocked.Exchange(ref _inspected, 0);

        var latency = new SortedDictionary<string, LatencyPercentiles>(StringComparer.Ordinal);
        lock (_latencyGate)
        {
            foreach (var (stage, r) in _latency)
            {
                if (r.Percentiles() is { } p) latency[stage] = p;
                r.Reset();
            }
        }

        OutputTelemetry output;
        lock (_outputGate)
        {
            var parts = _classes.Values.Sum();
            var classes = new SortedDictionary<string, long>(StringComparer.Ordinal);
            foreach (var key in _classes.Keys.ToList())
            {
                if (_classes[key] > 0) classes[key] = _classes[key];
                _classes[key] = 0;
            }
            output = new OutputTelemetry(parts, classes, _noDetection, parts > 0 ? (double)_noDetection / parts : null);
            _noDetection = 0;
        }

        InputTelemetry input;
        lock (_inputGate) input = _drift.TakeInterval();

        return new TelemetrySnapshot(_deviceId, _time.GetUtcNow(), Math.Round(seconds, 3),
            new FrameTelemetry(captured, dropped, inspected, captured / seconds, inspected / seconds, dropped / seconds),
            latency, _process.Sample(), input, output);
    }
}
