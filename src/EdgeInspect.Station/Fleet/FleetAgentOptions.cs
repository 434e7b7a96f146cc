namespace EdgeInspect.Station.Fleet;

/// <summary>Device config section "Fleet": trust, model slots, promotion gate and rollback limits. Validated at start.</summary>
public sealed class FleetAgentOptions
{
    public const string SectionName = "Fleet";

    /// <summary>Public keys (SubjectPublicKeyInfo PEM files) whose signatures this device accepts; at least one.</summary>
    public List<string> TrustedKeys { get; set; } = [];

    /// <summary>Folder holding the model slots (<c>models/a</c>, <c>models/b</c>) and the staging folder.</summary>
    public string SlotsFolder { get; set; } = "data";

    /// <summary>Where partly received packages are kept so a transfer resumes after a dropped link or a restart.</summary>
    public string? SpoolFolder { get; set; }

    /// <summary>The fleet this device belongs to; a package naming another fleet is refused.</summary>
    public string? FleetName { get; set; }

    /// <summary>Largest package archive accepted (checked on the offer, before any chunk).</summary>
    public long MaxPackageBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>Largest unpacked package (a tar bomb is refused while extracting).</summary>
    public long MaxUnpackedBytes { get; set; } = 512L * 1024 * 1024;

    public int MaxChunkBytes { get; set; } = 128 * 1024;

    public PromotionOptions Promotion { get; set; } = new();

    public RollbackOptions Rollback { get; set; } = new();

    /// <summary>Events kept in memory for the status message.</summary>
    public int StatusEvents { get; set; } = 10;

    public string EffectiveSpoolFolder => SpoolFolder ?? Path.Combine(SlotsFolder, "spool");

    public void Validate()
    {
        if (TrustedKeys.Count == 0) throw new ArgumentException($"{SectionName}:TrustedKeys: at least one public key file is required");
        foreach (var (k, i) in TrustedKeys.Select((k, i) => (k, i)))
        {
            if (string.IsNullOrWhiteSpace(k)) throw new ArgumentException($"{SectionName}:TrustedKeys:{i}: empty path");
        }
        if (string.IsNullOrWhiteSpace(SlotsFolder)) throw new ArgumentException($"{SectionName}:SlotsFolder: required");
        if (MaxPackageBytes <= 0) throw new ArgumentException($"{SectionName}:MaxPackageBytes: must be positive");
        if (MaxUnpackedBytes < MaxPackageBytes) throw new ArgumentException($"{SectionName}:MaxUnpackedBytes: must be at least MaxPackageBytes");
        if (MaxChunkBytes is < 1024 or > 1024 * 1024) throw new ArgumentException($"{SectionName}:MaxChunkBytes: must be 1024..1048576");
        if (StatusEvents is < 1 or > 1000) throw new ArgumentException($"{SectionName}:StatusEvents: must be 1..1000");
        Promotion.Validate();
        Rollback.Validate();
    }
}

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

/// <summary>
/// "Fleet:Rollback": limits on the candidate while it is shadowed and on a newly promoted model while it is watched.
/// Over the last <see cref="WindowParts"/> parts: the error rate (model failures plus disagreements with the human,
/// over parts that had a verdict to compare) and the 95th percentile latency. A candidate that crosses them is
/// rejected; a promoted model that crosses them is rolled back to the previous slot (when <see cref="Auto"/>).
/// </summary>
public sealed class RollbackOptions
{
    public bool Auto { get; set; } = true;
    public int WindowParts { get; set; } = 100;
    public double MaxErrorRate { get; set; } = 0.25;
    public double MaxLatencyMs { get; set; } = 1000;

    /// <summary>Parts a promoted model is watched for before it counts as settled.</summary>
    public int WatchParts { get; set; } = 1000;

    public void Validate()
    {
        const string s = FleetAgentOptions.SectionName + ":Rollback";
        if (WindowParts is < 1 or > 100_000) throw new ArgumentException($"{s}:WindowParts: must be 1..100000");
        if (MaxErrorRate is < 0 or > 1) throw new ArgumentException($"{s}:MaxErrorRate: must be 0..1");
        if (MaxLatencyMs <= 0) throw new ArgumentException($"{s}:MaxLatencyMs: must be positive");
        if (WatchParts < WindowParts) throw new ArgumentException($"{s}:WatchParts: must be at least WindowParts");
    }
}
