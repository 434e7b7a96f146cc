namespace EdgeInspect.Core.Telemetry;

/// <summary>The "Telemetry" section of the device config; validated at start (<see cref="Validate"/> names the key).</summary>
public sealed class TelemetryOptions
{
    public const string SectionName = "Telemetry";

    /// <summary>Seconds between snapshots (stored, and published when the broker is reachable); 0 disables the publisher.</summary>
    public double IntervalSeconds { get; set; } = 60;

    /// <summary>Frames that make the drift baseline when the model package has none.</summary>
    public int BaselineFrames { get; set; } = 500;

    /// <summary>Alarm thresholds with hysteresis.</summary>
    public List<AlarmRule> Alarms { get; set; } = [];

    public void Validate()
    {
        static void Fail(string key, string problem) => throw new InvalidOperationException($"{SectionName}:{key}: {problem}");
        if (IntervalSeconds < 0 || !double.IsFinite(IntervalSeconds)) Fail(nameof(IntervalSeconds), "must be >= 0 (0 = off)");
        if (IntervalSeconds is > 0 and < 1) Fail(nameof(IntervalSeconds), $"{IntervalSeconds} is below the 1 s minimum");
        if (BaselineFrames < 2) Fail(nameof(BaselineFrames), "must be >= 2");
        _ = new AlarmEvaluator(Alarms); // validates each rule, naming Telemetry:Alarms:<index>:<field>
    }
}
