using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Shadow;

namespace EdgeInspect.Core.Automation;

/// <summary>What shadow evidence a move to partial or full needs (device config section "Automation:Gate").</summary>
public sealed record GateOptions
{
    /// <summary>Paired parts (human and model verdict on the same part) needed before any automated mode.</summary>
    public int MinPairedParts { get; init; } = 200;
    /// <summary>The Wilson 95% lower bound of verdict agreement must exceed this.</summary>
    public double MinAgreementLowerBound { get; init; } = 0.95;

    public void Validate(string section = "Automation:Gate")
    {
        if (MinPairedParts < 0) throw new ConfigValueException($"{section}:MinPairedParts", "must be >= 0");
        if (MinAgreementLowerBound is < 0 or > 1 || double.IsNaN(MinAgreementLowerBound))
            throw new ConfigValueException($"{section}:MinAgreementLowerBound", "must be between 0 and 1");
    }
}

/// <summary>A bad configuration value: names the key and the reason.</summary>
public sealed class ConfigValueException(string key, string reason) : Exception($"{key}: {reason}")
{
    public string Key { get; } = key;
    public string Reason { get; } = reason;
}

public sealed record GateDecision(bool Allowed, string Reason);

/// <summary>
/// Refuses a move to partial or full until shadow evidence supports it (ARCHITECTURE.md, "Degrees of automation").
/// Moves to human, shadow or assist are always allowed: they are never less safe.
/// </summary>
public sealed class AutomationGate(GateOptions options)
{
    public GateOptions Options { get; } = options;

    public GateDecision Evaluate(AutomationMode to, long paired, long agreements)
    {
        if (to < AutomationMode.Partial) return new GateDecision(true, $"{to.ToWire()} needs no shadow evidence");
        if (paired < Options.MinPairedParts)
            return new GateDecision(false, $"only {paired} paired parts in shadow, {Options.MinPairedParts} required for {to.ToWire()}");
        double lower = Wilson.LowerBound(agreements, paired);
        if (lower <= Options.MinAgreementLowerBound)
            return new GateDecision(false,
                $"agreement {agreements}/{paired}: Wilson 95% lower bound {lower:P2} is not above the target {Options.MinAgreementLowerBound:P2}");
        return new GateDecision(true, $"agreement {agreements}/{paired}: lower bound {lower:P2} above {Options.MinAgreementLowerBound:P2}");
    }
}
