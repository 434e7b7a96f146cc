using System.Security.Cryptography;

namespace EdgeInspect.Fleet.Protocol.Signing;

/// <summary>
/// The public keys a device trusts (device config, ARCHITECTURE.md "Model package"): only packages signed by
/// one of these are installed. Keys are indexed by <see cref="PackageKeys.KeyId"/>.
/// </summary>
public sealed class TrustedKeys : IDisposable
{
    private readonly Dictionary<string, ECDsa> _keys = new(StringComparer.Ordinal);

    public TrustedKeys(IEnumerable<(string Pem, string Source)> publicKeys)
    {
        foreach (var (pem, source) in publicKeys)
        {
            var key = PackageKeys.ImportPublicPem(pem, source);
            if (!_keys.TryAdd(PackageKeys.KeyId(key), key)) key.Dispose();
        }
    }

    /// <summary>Loads PEM files; a missing or bad file throws <see cref="KeyFormatException"/> naming it.</summary>
    public static TrustedKeys FromFiles(IEnumerable<string> paths) =>
        new(paths.Select(p => (File.Exists(p) ? File.ReadAllText(p) : throw new KeyFormatException($"{p}: trusted key file not found"), p)));

    public IReadOnlyCollection<string> KeyIds => _keys.Keys;

    public int Count => _keys.Count;

    public SignatureCheck Verify(ReadOnlySpan<byte> manifestBytes, ReadOnlySpan<byte> signatureFile)
    {
        var sig = PackageSignature.TryParse(signatureFile, out var why);
        if (sig is null) return new(SignatureFailure.Malformed, null, why!);
        if (sig.Algorithm != PackageSignature.Es256)
            return new(SignatureFailure.UnsupportedAlgorithm, sig.KeyId, $"manifest.sig: algorithm '{sig.Algorithm}' is not {PackageSignature.Es256}");
        if (!_keys.TryGetValue(sig.KeyId, out var key))
            return new(SignatureFailure.UnknownKey, sig.KeyId, $"manifest.sig: key {Short(sig.KeyId)} is not a trusted key of this device");
        byte[] raw;
        try
        {
            raw = Convert.FromBase64String(sig.Signature);
        }
        catch (FormatException)
        {
            return new(SignatureFailure.Malformed, sig.KeyId, "manifest.sig: signature is not base64");
        }
        return key.VerifyData(manifestBytes, raw, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)
            ? new(SignatureFailure.None, sig.KeyId, "signature valid")
            : new(SignatureFailure.BadSignature, sig.KeyId, $"manifest.sig: signature by key {Short(sig.KeyId)} does not match manifest.json");
    }

    private static string Short(string keyId) => keyId.Length > 16 ? keyId[..16] : keyId;

    public void Dispose()
    {
        foreach (var k in _keys.Values) k.Dispose();
        _keys.Clear();
    }
}
