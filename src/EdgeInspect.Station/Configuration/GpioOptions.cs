namespace EdgeInspect.Station.Configuration;

/// <summary>The "Gpio" section: the driver and the station's pins (BCM numbers on a Pi, line offsets on a Jetson).</summary>
public sealed class GpioOptions
{
    /// <summary>The section name in a profile.</summary>
    public const string SectionName = "Gpio";

    /// <summary>simulated | real</summary>
    public string Driver { get; set; } = "simulated";

    /// <summary>
    /// Simulated driver only: while a file exists at this path every output write fails with an I/O error, as on a dead
    /// GPIO expander, to rehearse the fail-safe path (NG parts recorded with the reason) on a bench. Null: never.
    /// </summary>
    public string? SimulatedWriteFaultFile { get; set; }

    /// <summary>Inspector's OK button input.</summary>
    public int ButtonOk { get; set; } = 17;

    /// <summary>Inspector's defect button input.</summary>
    public int ButtonDefect { get; set; } = 27;

    /// <summary>Part-present sensor input (triggered sources).</summary>
    public int PartPresent { get; set; } = 22;

    /// <summary>
    /// Whether the station has the mode key switch. Where it has, its pins are read and its position caps what remote
    /// commands may set; false leaves the pins unread and remote commands uncapped.
    /// </summary>
    public bool ModeKeySwitch { get; set; } = true;

    /// <summary>Mode key switch, bit 0.</summary>
    public int ModeKeyA { get; set; } = 5;

    /// <summary>Mode key switch, bit 1.</summary>
    public int ModeKeyB { get; set; } = 6;

    /// <summary>Mode key switch, bit 2.</summary>
    public int ModeKeyC { get; set; } = 13;

    /// <summary>Reject actuator output.</summary>
    public int RejectOutput { get; set; } = 23;

    /// <summary>Status light output.</summary>
    public int StatusLight { get; set; } = 24;

    /// <summary>
    /// "Station ready" output for the line's PLC: active only while the station is healthy (no stage stuck, the store
    /// writing), so the PLC can divert parts when it drops. -1: none fitted.
    /// </summary>
    public int ReadyOutput { get; set; } = -1;

    /// <summary>True: the ready output is active low (wired to a PLC input that reads a pulled-down line as "ready").</summary>
    public bool ReadyActiveLow { get; set; }

    /// <summary>How long a stage may stay busy before the ready output drops.</summary>
    public int ReadyStallMs { get; set; } = 5000;

    /// <summary>How long an input must hold before a change counts.</summary>
    public int DebounceMs { get; set; } = 30;

    /// <summary><see cref="DebounceMs"/> as a span.</summary>
    public TimeSpan Debounce => TimeSpan.FromMilliseconds(DebounceMs);

    /// <summary>Throws naming the first bad key; every pin is used once.</summary>
    public void Validate()
    {
        ConfigCheck.Need(Driver is "simulated" or "real", "Gpio:Driver", "must be simulated or real");
        ConfigCheck.Need(SimulatedWriteFaultFile is null || Driver == "simulated", "Gpio:SimulatedWriteFaultFile",
            "only the simulated driver can fake a write fault (Gpio:Driver is real)");
        var pins = new (string Key, int Pin)[]
        {
            ("Gpio:ButtonOk", ButtonOk), ("Gpio:ButtonDefect", ButtonDefect), ("Gpio:PartPresent", PartPresent),
            ("Gpio:ModeKeyA", ModeKeyA), ("Gpio:ModeKeyB", ModeKeyB), ("Gpio:ModeKeyC", ModeKeyC),
            ("Gpio:RejectOutput", RejectOutput), ("Gpio:StatusLight", StatusLight),
        }.Concat(ReadyOutput == -1 ? [] : new[] { ("Gpio:ReadyOutput", ReadyOutput) });
        var seen = new Dictionary<int, string>();
        foreach (var (key, pin) in pins)
        {
            ConfigCheck.Need(pin is >= 0 and <= 511, key, "pin number must be 0..511");
            ConfigCheck.Need(seen.TryAdd(pin, key), key, $"pin {pin} is already used by {seen.GetValueOrDefault(pin)}");
        }
        ConfigCheck.Need(DebounceMs is >= 0 and <= 1000, "Gpio:DebounceMs", "must be 0..1000");
        ConfigCheck.Need(ReadyStallMs is >= 100 and <= 600_000, "Gpio:ReadyStallMs", "must be 100..600000");
    }
}
