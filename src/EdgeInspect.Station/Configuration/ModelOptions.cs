using EdgeInspect.Core.Inference;

namespace EdgeInspect.Station.Configuration;

/// <summary>The "Model" section: the package the station starts with and how ONNX Runtime runs it.</summary>
public sealed class ModelOptions
{
    /// <summary>The section name in a profile.</summary>
    public const string SectionName = "Model";

    /// <summary>Model package folder; relative paths resolve against the working folder, then the repository root.</summary>
    public string Package { get; set; } = "models/virtual-line";

    /// <summary>
    /// Execution providers in preference order (tensorrt, cuda, cpu); a missing one falls back with a warning.
    /// Empty in the profile means CPU only (the binder appends to a non-empty default, so the default lives in
    /// <see cref="Inference"/>).
    /// </summary>
    public string[] Providers { get; set; } = [];

    /// <summary>ONNX Runtime intra-op threads; 0 = one per core.</summary>
    public int IntraOpThreads { get; set; }

    /// <summary>Copies of each cascade network run side by side (1 = one copy; 0 = one per core, at most 4, on the CPU, 1 on a GPU).</summary>
    public int Lanes { get; set; } = 1;

    /// <summary>How ONNX Runtime runs the station's networks (the active model, a candidate, the validator).</summary>
    public InferenceOptions Inference => new()
    {
        Providers = Providers.Length == 0 ? ["cpu"] : Providers,
        IntraOpThreads = IntraOpThreads,
        Lanes = Lanes,
    };

    /// <summary>Throws naming the first bad key.</summary>
    public void Validate()
    {
        ConfigCheck.Need(!string.IsNullOrWhiteSpace(Package), "Model:Package", "must name a model package folder");
        if (Providers.Length > 0 && ExecutionProviders.Problem(Providers) is { } providers) throw new Core.Automation.ConfigValueException("Model:Providers", providers);
        ConfigCheck.Need(IntraOpThreads is >= 0 and <= 64, "Model:IntraOpThreads", "must be 0..64");
        ConfigCheck.Need(Lanes is >= 0 and <= 16, "Model:Lanes", "must be 0..16 (0 = automatic)");
    }
}
