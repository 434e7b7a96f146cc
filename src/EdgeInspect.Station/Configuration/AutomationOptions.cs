using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;

namespace EdgeInspect.Station.Configuration;

/// <summary>The "Automation" section: the mode a new store starts in, the gate to the automated modes, and audit sampling.</summary>
public sealed class AutomationOptions
{
    /// <summary>The section name in a profile.</summary>
    public const string SectionName = "Automation";

    /// <summary>Mode of a store's first start (afterwards the persisted mode wins).</summary>
    public string InitialMode { get; set; } = "shadow";

    /// <summary>In partial mode the model actuates only at or above this confidence.</summary>
    public float PartialConfidence { get; set; } = 0.9f;

    /// <summary>Paired parts needed before partial or full.</summary>
    public int GateMinPairedParts { get; set; } = 200;

    /// <summary>The Wilson 95 % lower bound of agreement must exceed this.</summary>
    public double GateMinAgreementLowerBound { get; set; } = 0.95;

    /// <summary>
    /// In partial and full, the fraction of the parts the model would decide that go to the human inspector instead
    /// (audit sampling): they wait for the button as in assist, so the active model's agreement keeps being measured
    /// and the watch after a promotion sees wrong verdicts. 0 turns it off.
    /// </summary>
    public double AuditSampleRate { get; set; } = 0.02;

    /// <summary>Fixes the audit sampling's draws (a repeatable run, tests); unset: a random seed at each start.</summary>
    public ulong? AuditSampleSeed { get; set; }

    /// <summary>The gate these settings describe.</summary>
    public GateOptions Gate => new() { MinPairedParts = GateMinPairedParts, MinAgreementLowerBound = GateMinAgreementLowerBound };

    /// <summary><see cref="InitialMode"/> parsed (validated at start).</summary>
    public AutomationMode Initial => AutomationModes.TryParse(InitialMode, out var m) ? m : AutomationMode.Shadow;

    /// <summary>Throws naming the first bad key.</summary>
    public void Validate()
    {
        ConfigCheck.Need(AutomationModes.TryParse(InitialMode, out _), "Automation:InitialMode", "must be human, shadow, assist, partial or full");
        ConfigCheck.Need(PartialConfidence is > 0 and <= 1, "Automation:PartialConfidence", "must be in (0, 1]");
        ConfigCheck.Need(AuditSampleRate is >= 0 and <= 1, "Automation:AuditSampleRate", "must be in [0, 1] (a fraction of parts, 0.02 for 2 %)");
        Gate.Validate("Automation");
    }
}
