using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EdgeInspect.Core.Packages;
using EdgeInspect.Fleet.Protocol.Signing;
using EdgeInspect.Fleet.Protocol.Transfer;

namespace EdgeInspect.Fleet.Protocol.Packages;

/// <summary>
/// What a package key vouches for before a byte of the archive moves: the archive's SHA-256 and size, the package id
/// of the transfer, the package name and version inside, and the target (<c>device:&lt;id&gt;</c> or
/// <c>fleet:&lt;name&gt;</c>). The device checks it on the offer, so an unsigned, foreign or downgrading package is
/// refused before it takes disk space, and checks the unpacked manifest against it, so the statement cannot vouch
/// for a different package than the one installed.
/// </summary>
public sealed record PackageStatement(string PackageId, string Name, long Version, string Sha256, long Size, string Target, DateTimeOffset IssuedAt)
{
    /// <summary>Target prefix for one device.</summary>
    public const string DevicePrefix = "device:";

    /// <summary>Target prefix for every device of a fleet.</summary>
    public const string FleetPrefix = "fleet:";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private static readonly JsonDocumentOptions DocOptions = new() { MaxDepth = 4 };

    /// <summary>A statement for <paramref name="offer"/>'s archive, naming the package inside.</summary>
    public static PackageStatement For(TransferOffer offer, string name, long version, string target, DateTimeOffset issuedAt) =>
        new(offer.PackageId, name, version, offer.Sha256, offer.TotalSize, target, issuedAt);

    /// <summary>Signs the statement's exact JSON text with a package key.</summary>
    public SignedStatement Sign(ECDsa key)
    {
        var text = JsonSerializer.Serialize(this, Json);
        var sig = key.SignData(Encoding.UTF8.GetBytes(text), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
        return new SignedStatement(PackageKeys.KeyId(key), Convert.ToBase64String(sig), text);
    }

    /// <summary>
    /// Verifies the offer's statement for this device, in order: present (<c>unsigned</c>), key trusted, not revoked and
    /// the signature holding (<c>unknown-key</c>, <c>revoked-key</c>, <c>bad-signature</c>), then the statement read
    /// and compared with the offer (<c>statement-mismatch</c>) and the target (<c>wrong-device</c>, <c>wrong-fleet</c>).
    /// Nothing in the statement is read before its signature holds. Throws <see cref="PackageRefusedException"/>.
    /// </summary>
    public static PackageStatement Verify(TransferOffer offer, TrustedKeys keys, DeviceIdentity device, KeyRevocations? revoked = null)
    {
        ArgumentNullException.ThrowIfNull(offer);
        if (offer.Statement is not { } s || string.IsNullOrEmpty(s.KeyId) || string.IsNullOrEmpty(s.Signature) || string.IsNullOrEmpty(s.Signed))
            throw new PackageRefusedException(RefusalCode.Unsigned, "offer: no signed statement (keyId, signature, signed); a package key must vouch for the archive before any chunk is taken");
        var bytes = Encoding.UTF8.GetBytes(s.Signed);
        var check = keys.VerifyDetached(s.KeyId, s.Signature, bytes, "offer statement", "its statement", revoked);
        if (!check.IsValid) throw new PackageRefusedException(PackageVerifier.CodeOf(check.Failure), check.Reason);
        PackageStatement? st;
        try
        {
            using var doc = JsonDocument.Parse(bytes, DocOptions);
            st = doc.Deserialize<PackageStatement>(Json);
        }
        catch (JsonException ex)
        {
            throw new PackageRefusedException(RefusalCode.Malformed, $"offer statement: signed but not a statement ({ex.Message})");
        }
        if (st is null || st.PackageId is null || st.Name is null || st.Sha256 is null || st.Target is null)
            throw new PackageRefusedException(RefusalCode.Malformed, "offer statement: packageId, name, version, sha256, size and target are required");
        if (st.Disagreement(offer) is { } why) throw new PackageRefusedException(RefusalCode.StatementMismatch, $"offer statement: {why}");
        st.CheckTarget(device);
        return st;
    }

    /// <summary>Where the offer differs from what was signed; null when it matches.</summary>
    public string? Disagreement(TransferOffer offer)
    {
        if (!string.Equals(Sha256, offer.Sha256, StringComparison.OrdinalIgnoreCase))
            return $"signed SHA-256 {Short(Sha256)}... differs from the offer's {Short(offer.Sha256)}...";
        if (Size != offer.TotalSize) return $"signed size {Size} differs from the offer's {offer.TotalSize}";
        if (!string.Equals(PackageId, offer.PackageId, StringComparison.Ordinal)) return $"signed for package id '{Short(PackageId)}', offered as '{Short(offer.PackageId)}'";
        return null;
    }

    /// <summary>Where the unpacked manifest differs from what was signed; null when it matches.</summary>
    public string? Disagreement(ModelManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        if (!string.Equals(Name, manifest.Name, StringComparison.Ordinal)) return $"manifest names '{manifest.Name}', the statement '{Name}'";
        if (Version != manifest.Version) return $"manifest has version {manifest.Version}, the statement {Version}";
        return null;
    }

    private void CheckTarget(DeviceIdentity device)
    {
        if (Target.StartsWith(DevicePrefix, StringComparison.Ordinal))
        {
            if (!string.Equals(Target[DevicePrefix.Length..], device.DeviceId, StringComparison.Ordinal))
                throw new PackageRefusedException(RefusalCode.WrongDevice, $"offer statement: signed for {Short(Target)}, this is device '{device.DeviceId}'");
        }
        else if (Target.StartsWith(FleetPrefix, StringComparison.Ordinal))
        {
            if (device.Fleet is null || !string.Equals(Target[FleetPrefix.Length..], device.Fleet, StringComparison.Ordinal))
                throw new PackageRefusedException(RefusalCode.WrongFleet, $"offer statement: signed for {Short(Target)}, this device is in fleet '{device.Fleet ?? "(none)"}'");
        }
        else
        {
            throw new PackageRefusedException(RefusalCode.Malformed, $"offer statement: target '{Short(Target)}' is neither device:<id> nor fleet:<name>");
        }
    }

    private static string Short(string s) => s.Length > 64 ? s[..64] : s;
}
