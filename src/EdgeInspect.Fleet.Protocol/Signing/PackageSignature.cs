using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeInspect.Fleet.Protocol.Signing;

/// <summary>
/// manifest.sig beside manifest.json: which key signed, and the ECDSA P-256 / SHA-256 signature ("ES256",
/// RFC 7518 section 3.4: r || s, 64 bytes, IEEE P1363 form) over the exact manifest.json bytes.
/// Signing the bytes, not a re-serialisation, means no canonical JSON form is needed: every file is covered
/// through its SHA-256 in the manifest.
/// </summary>
public sealed class PackageSignature
{
    public const string FileName = "manifest.sig";
    public const string Es256 = "ES256";

    public string Algorithm { get; set; } = Es256;
    public string KeyId { get; set; } = "";
    /// <summary>Base64 of r || s.</summary>
    public string Signature { get; set; } = "";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    public static PackageSignature Sign(ReadOnlySpan<byte> manifestBytes, ECDsa privateKey) => new()
    {
        Algorithm = Es256,
        KeyId = PackageKeys.KeyId(privateKey),
        Signature = Convert.ToBase64String(
            privateKey.SignData(manifestBytes, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)),
    };

    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    /// <summary>Parses manifest.sig; null with a reason when it is not a signature document.</summary>
    public static PackageSignature? TryParse(ReadOnlySpan<byte> bytes, out string? reason)
    {
        try
        {
            var sig = JsonSerializer.Deserialize<PackageSignature>(bytes, Json);
            if (sig is null || string.IsNullOrEmpty(sig.KeyId) || string.IsNullOrEmpty(sig.Signature))
            {
                reason = "manifest.sig: keyId and signature are required";
                return null;
            }
            reason = null;
            return sig;
        }
        catch (JsonException ex)
        {
            reason = $"manifest.sig: not JSON ({ex.Message})";
            return null;
        }
    }
}
