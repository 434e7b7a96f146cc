using EdgeInspect.Core.Packages;

namespace EdgeInspect.Core.Telemetry;

/// <summary>Mean and standard deviation of one input statistic.</summary>
public readonly record struct MeanStd(double Mean, double Std);

/// <summary>The reference the drift score compares against, and where it came from ("manifest" or "firstFrames").</summary>
public sealed record DriftBaseline(string Source, MeanStd Brightness, MeanStd Contrast, MeanStd Sharpness, long Frames)
{
    public static DriftBaseline FromManifest(InputBaseline b)
    {
        ArgumentNullException.ThrowIfNull(b);
        return new DriftBaseline("manifest", new(b.Brightness, b.BrightnessStd), new(b.Contrast, b.ContrastStd), new(b.Sharpness, b.SharpnessStd), 0);
    }
}

/// <summary>One interval's input statistics and how far they drifted from the baseline.</summary>
public sealed record InputTelemetry(
    long Frames,
    double? Brightness,
    double? Contrast,
    double? Sharpness,
    double? DriftScore,
    double? BrightnessDrift,
    double? ContrastDrift,
    double? SharpnessDrift,
    DriftBaseline? Baseline);

/// <summary>
/// Drift of the camera input against a baseline: per statistic, the distance of this interval's mean from the
/// baseline mean in baseline standard deviations (|mean - mean0| / std0, a standardized mean difference); the drift
/// score is the largest of the three. 0 = like the baseline, about 1 = shifted by a typical frame-to-frame spread,
/// 3 and more = a different scene (lighting changed, lens dirty or out of focus, camera moved).
/// <para>
/// The baseline is the model package's (<see cref="ModelManifest.InputBaseline"/>, the statistics of its training
/// frames) when it has one, else learned from the first <c>baselineFrames</c> frames the station sees (Welford's
/// running mean and variance). A standard deviation below <see cref="MinStd"/> is raised to it, so a perfectly
/// constant baseline does not turn noise into infinite drift.
/// </para>
/// Not thread-safe: the recorder locks around it.
/// </summary>
public sealed class InputDrift
{
    public const double MinStd = 1e-3;
    private readonly int _baselineFrames;
    private DriftBaseline? _baseline;
    private Welford _learnB, _learnC, _learnS;
    private double _sumB, _sumC, _sumS;
    private long _frames;

    public InputDrift(int baselineFrames = 500)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(baselineFrames, 2);
        _baselineFrames = baselineFrames;
    }

    public DriftBaseline? Baseline => _baseline;

    /// <summary>Uses the package's baseline; null starts learning one from the next frames.</summary>
    public void SetBaseline(InputBaseline? manifest)
    {
        _baseline = manifest is null ? null : DriftBaseline.FromManifest(manifest);
        _learnB = _learnC = _learnS = default;
    }

    public void Add(FrameStatistics s)
    {
        _sumB += s.Brightness;
        _sumC += s.Contrast;
        _sumS += s.Sharpness;
        _frames++;
        if (_baseline is null)
        {
            _learnB.Add(s.Brightness);
            _learnC.Add(s.Contrast);
            _learnS.Add(s.Sharpness);
            if (_learnB.Count >= _baselineFrames)
            {
                _baseline = new DriftBaseline("firstFrames", _learnB.Result, _learnC.Result, _learnS.Result, _learnB.Count);
            }
        }
    }

    /// <summary>This interval's means and drift (null where there were no frames or no baseline yet); starts a new interval.</summary>
    public InputTelemetry TakeInterval()
    {
        InputTelemetry result;
        if (_frames == 0)
        {
            result = new InputTelemetry(0, null, null, null, null, null, null, null, _baseline);
        }
        else
        {
            double b = _sumB / _frames, c = _sumC / _frames, s = _sumS / _frames;
            double? db = null, dc = null, ds = null, score = null;
            if (_baseline is { } base0)
            {
                db = Distance(b, base0.Brightness);
                dc = Distance(c, base0.Contrast);
                ds = Distance(s, base0.Sharpness);
                score = Math.Max(db.Value, Math.Max(dc.Value, ds.Value));
            }
            result = new InputTelemetry(_frames, b, c, s, score, db, dc, ds, _baseline);
        }
        _sumB = _sumC = _sumS = 0;
        _frames = 0;
        return result;
    }

    /// <summary>|mean - baseline mean| / max(baseline std, <see cref="MinStd"/>).</summary>
    public static double Distance(double mean, MeanStd baseline) => Math.Abs(mean - baseline.Mean) / Math.Max(baseline.Std, MinStd);

    /// <summary>Welford's online mean and (population) variance (Technometrics 4(3), 1962).</summary>
    private struct Welford
    {
        private double _mean, _m2;
        public long Count { get; private set; }

        public void Add(double x)
        {
            Count++;
            var d = x - _mean;
            _mean += d / Count;
            _m2 += d * (x - _mean);
        }

        public readonly MeanStd Result => new(_mean, Count > 0 ? Math.Sqrt(_m2 / Count) : 0);
    }
}
