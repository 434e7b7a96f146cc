namespace EdgeInspect.Station.Configuration;

/// <summary>
/// The "HumanInspector" section: the simulated inspector of the virtual line, and how long a part waits for a real
/// inspector's button.
/// </summary>
public sealed class HumanVerdictOptions
{
    /// <summary>The section name in a profile.</summary>
    public const string SectionName = "HumanInspector";

    /// <summary>Simulated inspector (virtual line): probability of the right verdict.</summary>
    public double Accuracy { get; set; } = 0.97;

    /// <summary>Simulated inspector: mean time to a press.</summary>
    public int MeanDelayMs { get; set; } = 800;

    /// <summary>Simulated inspector: its random seed.</summary>
    public int Seed { get; set; } = 11;

    /// <summary>Real buttons: how long a part waits for the inspector's OK / defect press before it fails safe.</summary>
    public int WindowMs { get; set; } = 10_000;

    /// <summary>Throws naming the first bad key.</summary>
    public void Validate()
    {
        ConfigCheck.Need(Accuracy is >= 0 and <= 1, "HumanInspector:Accuracy", "must be 0..1");
        ConfigCheck.Need(MeanDelayMs >= 0, "HumanInspector:MeanDelayMs", "must be >= 0");
        ConfigCheck.Need(WindowMs is >= 0 and <= 600_000, "HumanInspector:WindowMs", "must be 0..600000");
    }
}
