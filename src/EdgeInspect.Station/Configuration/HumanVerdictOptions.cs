namespace EdgeInspect.Station.Configuration;

/// <summary>
/// The "HumanInspector" section: who gives the human verdicts (the simulated inspector of the virtual line, the GPIO
/// buttons, or the labels of a replayed folder), and how long a part waits for a real inspector's button.
/// </summary>
public sealed class HumanVerdictOptions
{
    /// <summary>The section name in a profile.</summary>
    public const string SectionName = "HumanInspector";

    /// <summary>The inspector kinds a profile may name.</summary>
    public static readonly IReadOnlyList<string> Kinds = ["auto", "simulated", "buttons", "labels"];

    /// <summary>
    /// auto: the simulated inspector on the virtual line, the buttons elsewhere | simulated | buttons | labels: each
    /// replayed part's label (Source:Kind "folder" with Source:Labels).
    /// </summary>
    public string Kind { get; set; } = "auto";

    /// <summary>Simulated inspector (virtual line): probability of the right verdict.</summary>
    public double Accuracy { get; set; } = 0.97;

    /// <summary>Simulated inspector: mean time to a press.</summary>
    public int MeanDelayMs { get; set; } = 800;

    /// <summary>Simulated inspector: its random seed.</summary>
    public int Seed { get; set; } = 11;

    /// <summary>
    /// Simulated inspector: defect classes the line accepts, so the inspector passes parts of them (always, whatever
    /// <see cref="Accuracy"/>); a model that flags them disagrees on a known class.
    /// </summary>
    public List<string> AcceptedClasses { get; set; } = [];

    /// <summary>Real buttons: how long a part waits for the inspector's OK / defect press before it fails safe.</summary>
    public int WindowMs { get; set; } = 10_000;

    /// <summary>Throws naming the first bad key.</summary>
    public void Validate()
    {
        ConfigCheck.Need(Kinds.Contains(Kind), "HumanInspector:Kind", $"must be one of {string.Join(", ", Kinds)}");
        ConfigCheck.Need(Accuracy is >= 0 and <= 1, "HumanInspector:Accuracy", "must be 0..1");
        ConfigCheck.Need(MeanDelayMs >= 0, "HumanInspector:MeanDelayMs", "must be >= 0");
        ConfigCheck.Need(WindowMs is >= 0 and <= 600_000, "HumanInspector:WindowMs", "must be 0..600000");
        for (var i = 0; i < AcceptedClasses.Count; i++)
        {
            ConfigCheck.Need(VirtualLine.DefectClasses.All.Contains(AcceptedClasses[i]), $"HumanInspector:AcceptedClasses:{i}",
                $"'{AcceptedClasses[i]}' is not a virtual-line defect class ({string.Join(", ", VirtualLine.DefectClasses.All)})");
        }
    }

    /// <summary>The checks that need the Source section: the simulated inspector judges rendered parts, the labels come from a folder's.</summary>
    public void Validate(SourceOptions source)
    {
        ArgumentNullException.ThrowIfNull(source);
        Validate();
        ConfigCheck.Need(Kind != "labels" || (source.Kind == "folder" && !string.IsNullOrWhiteSpace(source.Labels)), "HumanInspector:Kind",
            "labels needs a replayed folder with labels (Source:Kind \"folder\" and Source:Labels)");
        ConfigCheck.Need(Kind != "simulated" || source.Kind == "virtual-line", "HumanInspector:Kind",
            "simulated judges the virtual line's rendered parts (Source:Kind \"virtual-line\"); a replayed folder answers with labels");
    }

    /// <summary>The kind in effect: auto resolved against the source.</summary>
    public string EffectiveKind(SourceOptions source) =>
        Kind != "auto" ? Kind : source?.Kind == "virtual-line" ? "simulated" : "buttons";
}
