using System.Security.Cryptography;
using System.Text;
using EdgeInspect.Fleet.Protocol.Signing;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Protocol;

public sealed class SigningTests
{
    private static readonly byte[] Manifest = Encoding.UTF8.GetBytes("{\"name\":\"m\",\"version\":3}");

    [Fact]
    public void Verify_SignedByTrustedKey_IsValidAndNamesKey()
    {
        using var key = PackageKeys.Create();
        using var trusted = TestPackages.Trust(key);
        var sig = PackageSignature.Sign(Manifest, key);

        var check = trusted.Verify(Manifest, sig.ToBytes());

        Assert.True(check.IsValid, check.Reason);
        Assert.Equal(PackageKeys.KeyId(key), check.KeyId);
        Assert.Equal(64, check.KeyId!.Length);
    }

    [Fact]
    public void Verify_ManifestChangedAfterSigning_BadSignature()
    {
        using var key = PackageKeys.Create();
        using var trusted = TestPackages.Trust(key);
        var sig = PackageSignature.Sign(Manifest, key).ToBytes();
        var changed = (byte[])Manifest.Clone();
        changed[^2] = (byte)'4';

        var check = trusted.Verify(changed, sig);

        Assert.Equal(SignatureFailure.BadSignature, check.Failure);
        Assert.Contains("does not match manifest.json", check.Reason);
    }

    [Fact]
    public void Verify_SignedByKeyNotInDeviceConfig_UnknownKey()
    {
        using var trustedKey = PackageKeys.Create();
        using var otherKey = PackageKeys.Create();
        using var trusted = TestPackages.Trust(trustedKey);

        var check = trusted.Verify(Manifest, PackageSignature.Sign(Manifest, otherKey).ToBytes());

        Assert.Equal(SignatureFailure.UnknownKey, check.Failure);
        Assert.Contains("not a trusted key", check.Reason);
    }

    [Fact]
    public void Verify_ForgedSignatureClaimingTrustedKeyId_BadSignature()
    {
        using var trustedKey = PackageKeys.Create();
        using var attacker = PackageKeys.Create();
        using var trusted = TestPackages.Trust(trustedKey);
        var forged = PackageSignature.Sign(Manifest, attacker);
        forged.KeyId = PackageKeys.KeyId(trustedKey);

        var check = trusted.Verify(Manifest, forged.ToBytes());

        Assert.Equal(SignatureFailure.BadSignature, check.Failure);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{}")]
    [InlineData("{\"keyId\":\"abc\",\"signature\":\"***\"}")]
    public void Verify_MalformedSignatureFile_Malformed(string sigText)
    {
        using var key = PackageKeys.Create();
        using var trusted = new TrustedKeys([(PackageKeys.ExportPublicPem(key), "k")]);
        var sig = sigText.Replace("abc", PackageKeys.KeyId(key), StringComparison.Ordinal);

        var check = trusted.Verify(Manifest, Encoding.UTF8.GetBytes(sig));

        Assert.Equal(SignatureFailure.Malformed, check.Failure);
        Assert.StartsWith("manifest.sig:", check.Reason);
    }

    [Fact]
    public void Verify_OtherAlgorithm_UnsupportedAlgorithm()
    {
        using var key = PackageKeys.Create();
        using var trusted = TestPackages.Trust(key);
        var sig = PackageSignature.Sign(Manifest, key);
        sig.Algorithm = "none";

        Assert.Equal(SignatureFailure.UnsupportedAlgorithm, trusted.Verify(Manifest, sig.ToBytes()).Failure);
    }

    [Fact]
    public void KeyId_PrivateAndPublicPemOfSameKey_Equal()
    {
        using var key = PackageKeys.Create();
        using var fromPrivate = PackageKeys.ImportPrivatePem(PackageKeys.ExportPrivatePem(key), "priv");
        using var fromPublic = PackageKeys.ImportPublicPem(PackageKeys.ExportPublicPem(key), "pub");

        Assert.Equal(PackageKeys.KeyId(key), PackageKeys.KeyId(fromPrivate));
        Assert.Equal(PackageKeys.KeyId(key), PackageKeys.KeyId(fromPublic));
    }

    [Fact]
    public void ImportPublicPem_P384Key_RefusedNamingSource()
    {
        using var p384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);

        var ex = Assert.Throws<KeyFormatException>(() => PackageKeys.ImportPublicPem(p384.ExportSubjectPublicKeyInfoPem(), "device.json:trustedKeys[0]"));

        Assert.StartsWith("device.json:trustedKeys[0]:", ex.Message);
        Assert.Contains("P-256", ex.Message);
    }

    [Fact]
    public void ImportPublicPem_PrivateKeyText_RefusedNamingSource()
    {
        using var key = PackageKeys.Create();

        var ex = Assert.Throws<KeyFormatException>(() => PackageKeys.ImportPublicPem(PackageKeys.ExportPrivatePem(key), "keys/fleet.pub"));

        Assert.Contains("keys/fleet.pub", ex.Message);
    }

    [Fact]
    public void FromFiles_MissingFile_ThrowsNamingFile()
    {
        var ex = Assert.Throws<KeyFormatException>(() => TrustedKeys.FromFiles(["/nonexistent/fleet.pub"]));

        Assert.Equal("/nonexistent/fleet.pub: trusted key file not found", ex.Message);
    }
}
