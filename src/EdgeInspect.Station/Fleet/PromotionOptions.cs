namespace EdgeInspect.Station.Fleet;

/// <summary>"Fleet:Promotion": when a candidate may replace the active model without a forced command.</summary>
public sealed class PromotionOptions
{
    /// <summary>Promote by itself (between two frames) as soon as the gate is met; otherwise only on command.</summary>
    public bool Auto { get; set; }

    /// <summary>Parts with a human verdict the candidate must have been shadowed on.</summary>
    public int MinParts { get; set; } = 200;

    /// <summary>Lower 95 % Wilson bound of the candidate's agreement with the human that the gate needs.</summary>
    public double MinAgreement { get; set; } = 0.9;

    public void Validate()
    {
        if (MinParts < 1) throw new ArgumentException($"{FleetAgentOptions.SectionName}:Promotion:MinParts: must be at least 1");
        if (MinAgreement is < 0 or > 1) throw new ArgumentException($"{FleetAgentOptions.SectionName}:Promotion:MinAgreement: must be 0..1");
    }
}
