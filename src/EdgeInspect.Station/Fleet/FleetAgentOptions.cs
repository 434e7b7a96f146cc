using EdgeInspect.Station.Fleet.Transfer;

namespace EdgeInspect.Station.Fleet;

/// <summary>Device config section "Fleet": trust, model slots, promotion gate and rollback limits. Validated at start.</summary>
public sealed class FleetAgentOptions
{
    public const string SectionName = "Fleet";

    /// <summary>Public keys (SubjectPublicKeyInfo PEM files) whose signatures this device accepts; at least one.</summary>
    public List<string> TrustedKeys { get; set; } = [];

    /// <summary>
    /// Operator keys whose signed commands this device accepts, each with a role. None: every command is refused
    /// (<c>unknown-key</c>), the station is then controlled only locally.
    /// </summary>
    public List<OperatorOptions> Operators { get; set; } = [];

    /// <summary>
    /// Whether a remote <c>force</c> (past a gate) is allowed at all, even for an <c>override</c> key. Off by default:
    /// overriding a gate is then a local act (key switch, local CLI).
    /// </summary>
    public bool AllowRemoteOverride { get; set; }

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

    /// <summary>
    /// Key ids (64 hex characters, as keygen prints them) this device no longer trusts, package and operator keys alike:
    /// their packages and commands are refused as <c>revoked-key</c>. Keys revoked by a <c>revoke-key</c> command are kept
    /// beside the slots and added to these.
    /// </summary>
    public List<string> RevokedKeys { get; set; } = [];

    /// <summary>What a package transfer may cost the device (section <c>Fleet:Transfer</c>).</summary>
    public TransferOptions Transfer { get; set; } = new();

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
        for (var i = 0; i < Operators.Count; i++) Operators[i].Validate($"{SectionName}:Operators:{i}");
        if (string.IsNullOrWhiteSpace(SlotsFolder)) throw new ArgumentException($"{SectionName}:SlotsFolder: required");
        if (MaxPackageBytes <= 0) throw new ArgumentException($"{SectionName}:MaxPackageBytes: must be positive");
        if (MaxUnpackedBytes < MaxPackageBytes) throw new ArgumentException($"{SectionName}:MaxUnpackedBytes: must be at least MaxPackageBytes");
        if (MaxChunkBytes is < 1024 or > 1024 * 1024) throw new ArgumentException($"{SectionName}:MaxChunkBytes: must be 1024..1048576");
        for (var i = 0; i < RevokedKeys.Count; i++)
        {
            if (!EdgeInspect.Fleet.Protocol.Signing.KeyRevocations.IsKeyId(RevokedKeys[i]))
                throw new ArgumentException($"{SectionName}:RevokedKeys:{i}: '{RevokedKeys[i]}' is not a key id (64 lower-case hex characters)");
        }
        Transfer.Validate($"{SectionName}:Transfer", MaxChunkBytes, MaxPackageBytes);
        if (StatusEvents is < 1 or > 1000) throw new ArgumentException($"{SectionName}:StatusEvents: must be 1..1000");
        Promotion.Validate();
        Rollback.Validate();
    }
}
