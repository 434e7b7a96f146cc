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

    /// <summary>Checks manifest.sig over <paramref name="manifestBytes"/>; a key in <paramref name="revoked"/> fails as <see cref="SignatureFailure.Revoked"/>.</summary>
    public SignatureCheck Verify(ReadOnlySpan<byte> manifestBytes, ReadOnlySpan<byte> signatureFile, KeyRevocations? revoked = null)
    {
        var sig = PackageSignature.TryParse(signatureFile, out var why);
        if (sig is null) return new(SignatureFailure.Malformed, null, why!);
        if (sig.Algorithm != PackageSignature.Es256)
            return new(SignatureFailure.UnsupportedAlgorithm, sig.KeyId, $"manifest.sig: algorithm '{sig.Algorithm}' is not {PackageSignature.Es256}");
        if (!_keys.TryGetValue(sig.KeyId, out var key))
            return new(SignatureFailure.UnknownKey, sig.KeyId, $"manifest.sig: key {Short(sig.KeyId)} is not a trusted key of this device");
        if (revoked?.IsRevoked(sig.KeyId) == true)
            return new(SignatureFailure.Revoked, sig.KeyId, $"manifest.sig: key {Short(sig.KeyId)} is revoked on this device");
        return VerifyWith(key, sig.KeyId, sig.Signature, manifestBytes, "manifest.sig", "manifest.json");
    }

    /// <summary>
    /// Checks an ES256 signature (base64 r || s) by the trusted key <paramref name="keyId"/> over <paramref name="data"/>;
    /// <paramref name="what"/> and <paramref name="over"/> name the signature and the data in the reason.
    /// </summary>
    public SignatureCheck VerifyDetached(string keyId, string signature, ReadOnlySpan<byte> data, string what, string over, KeyRevocations? revoked = null)
    {
        if (!_keys.TryGetValue(keyId, out var key))
            return new(SignatureFailure.UnknownKey, keyId, $"{what}: key {Short(keyId)} is not a trusted key of this device");
        if (revoked?.IsRevoked(keyId) == true)
            return new(SignatureFailure.Revoked, keyId, $"{what}: key {Short(keyId)} is revoked on this device");
        return VerifyWith(key, keyId, signature, data, what, over);
    }

    private static SignatureCheck VerifyWith(ECDsa key, string keyId, string signature, ReadOnlySpan<byte> data, string what, string over)
    {
        byte[] raw;
        try
        {
            raw = Convert.FromBase64String(signature);
        }
        catch (FormatException)
        {
            return new(SignatureFailure.Malformed, keyId, $"{what}: signature is not base64");
        }
        return key.VerifyData(data, raw, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation)
            ? new(SignatureFailure.None, keyId, "signature valid")
            : new(SignatureFailure.BadSignature, keyId, $"{what}: signature by key {Short(keyId)} does not match {over}");
    }

    private static string Short(string keyId) => keyId.Length > 16 ? keyId[..16] : keyId;

    public void Dispose()
    {
        foreach (var k in _keys.Values) k.Dispose();
        _keys.Clear();
    }
}
