using System.Security.Cryptography;

namespace EdgeInspect.Fleet.Protocol.Signing;

/// <summary>
/// ECDSA P-256 key handling with the .NET built-in crypto (no native package).
/// Private keys are PKCS#8 PEM ("PRIVATE KEY"), public keys SubjectPublicKeyInfo PEM ("PUBLIC KEY"),
/// the formats openssl writes, so keys made elsewhere work too.
/// </summary>
public static class PackageKeys
{
    /// <summary>OID of NIST P-256 (secp256r1, RFC 5480 section 2.1.1.1).</summary>
    public const string P256Oid = "1.2.840.10045.3.1.7";

    public static ECDsa Create() => ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public static string ExportPrivatePem(ECDsa key) => key.ExportPkcs8PrivateKeyPem();

    public static string ExportPublicPem(ECDsa key) => key.ExportSubjectPublicKeyInfoPem();

    /// <summary>
    /// Key id: lower-case hex SHA-256 of the DER SubjectPublicKeyInfo. Stable across PEM formatting, so the device
    /// and the fleet tool name a key the same way without agreeing on anything but the key itself.
    /// </summary>
    public static string KeyId(ECDsa key) => Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo()));

    /// <summary>Reads a PKCS#8 private key PEM; throws <see cref="KeyFormatException"/> naming the source on anything else.</summary>
    public static ECDsa ImportPrivatePem(string pem, string source)
    {
        if (!pem.Contains("PRIVATE KEY", StringComparison.Ordinal))
            throw new KeyFormatException($"{source}: not a PEM private key (expected '-----BEGIN PRIVATE KEY-----')");
        return Import(pem, source);
    }

    /// <summary>Reads a SubjectPublicKeyInfo PEM; throws <see cref="KeyFormatException"/> naming the source on anything else.</summary>
    public static ECDsa ImportPublicPem(string pem, string source)
    {
        if (!pem.Contains("-----BEGIN PUBLIC KEY-----", StringComparison.Ordinal))
            throw new KeyFormatException($"{source}: not a PEM public key (expected '-----BEGIN PUBLIC KEY-----')");
        return Import(pem, source);
    }

    private static ECDsa Import(string pem, string source)
    {
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(pem);
            var curve = key.ExportParameters(false).Curve;
            if (curve.Oid?.Value != P256Oid && curve.Oid?.FriendlyName is not ("nistP256" or "ECDSA_P256"))
                throw new KeyFormatException($"{source}: key is not on curve P-256 (got {curve.Oid?.FriendlyName ?? curve.Oid?.Value ?? "explicit curve"})");
            return key;
        }
        catch (Exception ex) when (ex is ArgumentException or CryptographicException)
        {
            key.Dispose();
            throw new KeyFormatException($"{source}: not an ECDSA key PEM ({ex.Message})");
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }
}
