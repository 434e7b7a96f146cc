using System.Globalization;

namespace EdgeInspect.Core.Telemetry;

/// <summary>
/// One alarm threshold from the device config (<c>Telemetry:Alarms</c>), on a telemetry metric
/// (<see cref="TelemetrySnapshot.Metrics"/>): with <c>Direction = "above"</c> it is raised when the value reaches
/// <see cref="Raise"/> and cleared only once it is back at or below <see cref="Clear"/>; "below" mirrors that.
/// The gap between the two is the hysteresis that keeps a value hovering at the threshold from flapping.
/// </summary>
public sealed class AlarmRule
{
    /// <summary>Alarm name in events and <c>store stats</c>; defaults to "&lt;metric&gt;-&lt;direction&gt;".</summary>
    public string? Name { get; set; }
    public string Metric { get; set; } = "";
    /// <summary>"above" or "below".</summary>
    public string Direction { get; set; } = "above";
    public double Raise { get; set; }
    public double Clear { get; set; }

    public string EffectiveName => string.IsNullOrWhiteSpace(Name) ? $"{Metric}-{Direction}" : Name!;

    public bool IsAbove => string.Equals(Direction, "above", StringComparison.OrdinalIgnoreCase);

    /// <summary>Throws naming the key (<c>Telemetry:Alarms:2:Clear: ...</c>).</summary>
    public void Validate(string key)
    {
        void Fail(string field, string problem) => throw new InvalidOperationException($"{key}:{field}: {problem}");
        if (string.IsNullOrWhiteSpace(Metric)) Fail(nameof(Metric), "must name a telemetry metric (e.g. cpuPercent, latency.total.p95, driftScore)");
        var dir = Direction?.ToLowerInvariant();
        if (dir is not ("above" or "below")) Fail(nameof(Direction), $"'{Direction}' must be 'above' or 'below'");
        if (!double.IsFinite(Raise)) Fail(nameof(Raise), "must be a number");
        if (!double.IsFinite(Clear)) Fail(nameof(Clear), "must be a number");
        if (IsAbove && Clear > Raise) Fail(nameof(Clear), $"{Clear} must be <= Raise {Raise} for an 'above' alarm (hysteresis)");
        if (!IsAbove && Clear < Raise) Fail(nameof(Clear), $"{Clear} must be >= Raise {Raise} for a 'below' alarm (hysteresis)");
    }
}

/// <summary>An alarm that was raised or cleared by one evaluation.</summary>
public sealed record AlarmTransition(string Name, string Metric, bool Raised, double Value, AlarmRule Rule, DateTimeOffset At)
{
    /// <summary>"alarm.raised" / "alarm.cleared": the audit kinds <c>store stats</c> reads.</summary>
    public string Kind => Raised ? "alarm.raised" : "alarm.cleared";

    public string Describe()
    {
        var v = Value.ToString("0.###", CultureInfo.InvariantCulture);
        var r = Rule.Raise.ToString("0.###", CultureInfo.InvariantCulture);
        var c = Rule.Clear.ToString("0.###", CultureInfo.InvariantCulture);
        return Raised
            ? $"{Metric} {v} {(Rule.IsAbove ? ">=" : "<=")} {r} (clears {(Rule.IsAbove ? "at or below" : "at or above")} {c})"
            : $"{Metric} {v} back {(Rule.IsAbove ? "at or below" : "at or above")} {c}";
    }
}

/// <summary>
/// Evaluates the alarm rules on each telemetry snapshot and remembers which alarms are active, so a raise is reported
/// once and a clear only after the value went back past the clear value. A metric missing from a snapshot (no
/// temperature sensor, no frames in the interval) leaves its alarm as it was. Not thread-safe: the publisher owns it.
/// </summary>
public sealed class AlarmEvaluator
{
    private readonly IReadOnlyList<AlarmRule> _rules;
    private readonly HashSet<string> _active = new(StringComparer.Ordinal);

    public AlarmEvaluator(IEnumerable<AlarmRule> rules)
    {
        _rules = [.. rules];
        var i = 0;
        foreach (var r in _rules) r.Validate($"{TelemetryOptions.SectionName}:Alarms:{i++}");
        var duplicate = _rules.GroupBy(r => r.EffectiveName).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new InvalidOperationException($"{TelemetryOptions.SectionName}:Alarms: name '{duplicate.Key}' is used twice");
    }

    public IReadOnlyCollection<string> Active => _active;

    /// <summary>Marks alarms active without an event (restored from the store's audit trail after a restart).</summary>
    public void Restore(IEnumerable<string> activeNames)
    {
        foreach (var n in activeNames)
        {
            if (_rules.Any(r => r.EffectiveName == n)) _active.Add(n);
        }
    }

    public IReadOnlyList<AlarmTransition> Evaluate(IReadOnlyDictionary<string, double> metrics, DateTimeOffset at)
    {
        List<AlarmTransition>? transitions = null;
        foreach (var rule in _rules)
        {
            if (!metrics.TryGetValue(rule.Metric, out var value) || !double.IsFinite(value)) continue;
            var name = rule.EffectiveName;
            var active = _active.Contains(name);
            if (!active && (rule.IsAbove ? value >= rule.Raise : value <= rule.Raise))
            {
                _active.Add(name);
                (transitions ??= []).Add(new AlarmTransition(name, rule.Metric, true, value, rule, at));
            }
            else if (active && (rule.IsAbove ? value <= rule.Clear : value >= rule.Clear))
            {
                _active.Remove(name);
                (transitions ??= []).Add(new AlarmTransition(name, rule.Metric, false, value, rule, at));
            }
        }
        return transitions ?? (IReadOnlyList<AlarmTransition>)[];
    }
}
