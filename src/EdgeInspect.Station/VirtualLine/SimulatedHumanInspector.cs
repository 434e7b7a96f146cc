using EdgeInspect.Core.Domain;

namespace EdgeInspect.Station.VirtualLine;

public sealed record HumanInspectorOptions
{
    /// <summary>Probability the inspector gives the right verdict (and class) for a part.</summary>
    public double Accuracy { get; init; } = 0.97;
    /// <summary>Time from the part arriving to the button press.</summary>
    public TimeSpan MeanDelay { get; init; } = TimeSpan.FromMilliseconds(800);
    public int Seed { get; init; } = 11;
    /// <summary>
    /// Defect classes this line's specification accepts: the inspector passes a part whose class (its largest defect)
    /// is one of them, where a model trained to flag them fails it. Disagreements on a known class, the improvement
    /// loop's material.
    /// </summary>
    public IReadOnlySet<string> AcceptedClasses { get; init; } = new HashSet<string>();
}

/// <summary>A button press the simulated inspector makes for a part.</summary>
public readonly record struct HumanPress(Verdict Verdict, string Class, TimeSpan Delay);

/// <summary>
/// The simulated human at the station: looks at the part's ground truth and presses OK or defect, right with
/// probability <see cref="HumanInspectorOptions.Accuracy"/>, after a delay; a part of an accepted class
/// (<see cref="HumanInspectorOptions.AcceptedClasses"/>) is always passed. Deterministic per part index, so the
/// same line seed gives the same inspector mistakes, which lets a test check the shadow report against truth.
/// </summary>
public sealed class SimulatedHumanInspector(HumanInspectorOptions options) : Pipeline.IHumanVerdictSource
{
    /// <summary>Judges a virtual-line frame from its ground truth; other frames get no press.</summary>
    public HumanPress? Judge(Core.Imaging.Frame frame, TimeSpan maxWait) => frame.GroundTruth is PartTruth truth ? Judge(truth) : null;

    public HumanInspectorOptions Options { get; } = options;

    public HumanPress Judge(PartTruth truth)
    {
        var rng = SplitMix64.ForPart(Options.Seed, truth.Index);
        bool right = rng.NextDouble() < Options.Accuracy;
        var delay = TimeSpan.FromMilliseconds(Options.MeanDelay.TotalMilliseconds * (0.5 + rng.NextDouble()));
        if (truth.Verdict == Verdict.Ng && Options.AcceptedClasses.Contains(truth.PartClass)) return new HumanPress(Verdict.Ok, DefectClasses.Ok, delay);
        if (right) return new HumanPress(truth.Verdict, truth.PartClass, delay);
        // A mistake: a missed defect, or a false reject that names a random defect class.
        return truth.Verdict == Verdict.Ng
            ? new HumanPress(Verdict.Ok, DefectClasses.Ok, delay)
            : new HumanPress(Verdict.Ng, DefectClasses.All[rng.NextInt(0, DefectClasses.All.Count)], delay);
    }
}
