using EdgeInspect.Core.Domain;

namespace EdgeInspect.Core.Automation;

/// <summary>What the station does with a part in a given mode (ARCHITECTURE.md, "Degrees of automation").</summary>
public readonly record struct PolicyDecision(bool RunModel, bool ShowModelVerdict, bool WaitForHuman, bool ModelActuates);

/// <summary>Per-mode rules; pure so the table is tested directly.</summary>
public static class AutomationPolicy
{
    /// <summary>Before inspection: whether the model runs at all.</summary>
    public static bool RunsModel(AutomationMode mode) => mode != AutomationMode.Human;

    /// <summary>
    /// After the model ran (or not): who decides. In partial mode the model actuates only above the confidence
    /// threshold of its predicted class (<paramref name="confidentEnough"/>); below, the part waits for the button.
    /// </summary>
    public static PolicyDecision Decide(AutomationMode mode, bool confidentEnough) => mode switch
    {
        AutomationMode.Human => new(false, false, true, false),
        AutomationMode.Shadow => new(true, false, true, false),
        AutomationMode.Assist => new(true, true, true, false),
        AutomationMode.Partial => confidentEnough ? new(true, true, false, true) : new(true, true, true, false),
        AutomationMode.Full => new(true, true, false, true),
        _ => throw new ArgumentOutOfRangeException(nameof(mode)),
    };
}
