namespace EdgeInspect.Station.Pipeline;

/// <summary>The station's identity and the engine's decision settings.</summary>
public sealed record StationOptions
{
    public string DeviceId { get; init; } = "dev-001";
    public string Station { get; init; } = "station-1";
    /// <summary>In partial mode the model actuates only at or above this confidence.</summary>
    public float PartialConfidence { get; init; } = 0.9f;
    /// <summary>
    /// In partial and full, the fraction of the parts the model would decide that go to the human instead (audit
    /// sampling), so the model's agreement keeps being measured.
    /// </summary>
    public double AuditSampleRate { get; init; }
    /// <summary>Seed of the audit sampling's draws, for a repeatable run; null: a random seed.</summary>
    public ulong? AuditSampleSeed { get; init; }
    /// <summary>How long a part waits for the inspector's button when the human decides.</summary>
    public TimeSpan HumanWindow { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long the record stage gathers decided parts into one group commit after the first arrives (zero: only what
    /// is already waiting). Each commit writes several whole pages whatever it holds, so a window cuts the bytes
    /// written per record (SD card wear) at the cost of records staying undurable that long; actuation is never delayed.
    /// </summary>
    public TimeSpan GroupCommitWindow { get; init; }
}
