using System.Text;
using EdgeInspect.Fleet.Protocol.Packages;
using EdgeInspect.Fleet.Protocol.Signing;
using EdgeInspect.Station.Fleet.Slots;
using EdgeInspect.Core.Packages;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Protocol;

public sealed class PackageVerifierTests
{
    /// <summary>Writes <paramref name="manifest"/> as manifest.json, exactly these bytes, with its signature.</summary>
    private static void WriteSigned(string folder, byte[] manifest, System.Security.Cryptography.ECDsa key)
    {
        File.WriteAllBytes(Path.Combine(folder, "manifest.json"), manifest);
        File.WriteAllBytes(Path.Combine(folder, PackageSignature.FileName), PackageSignature.Sign(manifest, key).ToBytes());
    }

    private static readonly DeviceIdentity Device = new("dev-01", "line-a");

    private static PackageRefusedException Refused(string folder, TrustedKeys keys, long? installed = null, bool rollback = false) =>
        Assert.Throws<PackageRefusedException>(() => PackageVerifier.Verify(folder, keys, Device, installed, rollback));

    [Fact]
    public void Verify_SignedPackage_ReturnsManifestAndKey()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var folder = TestPackages.Build(tmp.Sub("p"), key, TestPackages.Manifest(5));

        var verified = PackageVerifier.Verify(folder, keys, Device, installedVersion: 4, rollback: false);

        Assert.Equal(5, verified.Manifest.Version);
        Assert.Equal(PackageKeys.KeyId(key), verified.KeyId);
        Assert.Equal(64, verified.Manifest.Classifier!.Sha256.Length);
    }

    [Fact]
    public void Verify_FileChangedAfterSigning_HashMismatchNamingFile()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var folder = TestPackages.Build(tmp.Sub("p"), key, TestPackages.Manifest(5));
        File.AppendAllText(Path.Combine(folder, "classifier.onnx"), "x");

        var ex = Refused(folder, keys);

        Assert.Equal(RefusalCode.HashMismatch, ex.Code);
        Assert.StartsWith("classifier.onnx:", ex.Message);
    }

    [Fact]
    public void Verify_NamedFileAbsent_MissingFile()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var folder = TestPackages.Build(tmp.Sub("p"), key, TestPackages.Manifest(5));
        File.Delete(Path.Combine(folder, "golden", "ok.png"));

        var ex = Refused(folder, keys);

        Assert.Equal(RefusalCode.MissingFile, ex.Code);
        Assert.Contains("golden/ok.png", ex.Message);
        Assert.Contains("golden[0]", ex.Message);
    }

    [Fact]
    public void Verify_ManifestEditedAfterSigning_BadSignature()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var folder = TestPackages.Build(tmp.Sub("p"), key, TestPackages.Manifest(5));
        var path = Path.Combine(folder, "manifest.json");
        File.WriteAllText(path, File.ReadAllText(path).Replace("\"version\": 5", "\"version\": 9", StringComparison.Ordinal));

        Assert.Equal(RefusalCode.BadSignature, Refused(folder, keys).Code);
    }

    [Fact]
    public void Verify_SignedByUntrustedKey_UnknownKey()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var other = PackageKeys.Create();
        using var keys = TestPackages.Trust(other);
        var folder = TestPackages.Build(tmp.Sub("p"), key, TestPackages.Manifest(5));

        Assert.Equal(RefusalCode.UnknownKey, Refused(folder, keys).Code);
    }

    [Fact]
    public void Verify_NoSignatureFile_MalformedSignature()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var folder = TestPackages.Build(tmp.Sub("p"), key, TestPackages.Manifest(5));
        File.Delete(Path.Combine(folder, PackageSignature.FileName));

        var ex = Refused(folder, keys);

        Assert.Equal(RefusalCode.MalformedSignature, ex.Code);
        Assert.Contains("unsigned", ex.Message);
    }

    [Fact]
    public void Verify_LowerVersionThanInstalled_RefusedUnlessRollback()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var folder = TestPackages.Build(tmp.Sub("p"), key, TestPackages.Manifest(3));

        var ex = Refused(folder, keys, installed: 4);
        var asRollback = PackageVerifier.Verify(folder, keys, Device, installedVersion: 4, rollback: true);

        Assert.Equal(RefusalCode.LowerVersion, ex.Code);
        Assert.Contains("lower than the installed 4", ex.Message);
        Assert.Equal(3, asRollback.Manifest.Version);
    }

    [Fact]
    public void Verify_PackageForAnotherDevice_WrongDevice()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var m = TestPackages.Manifest(5);
        m.Devices = ["dev-02"];
        var folder = TestPackages.Build(tmp.Sub("p"), key, m);

        var ex = Refused(folder, keys);

        Assert.Equal(RefusalCode.WrongDevice, ex.Code);
        Assert.Contains("dev-02", ex.Message);
    }

    [Fact]
    public void Verify_PackageForAnotherFleet_WrongFleet()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var m = TestPackages.Manifest(5);
        m.Fleet = "line-b";
        var folder = TestPackages.Build(tmp.Sub("p"), key, m);

        Assert.Equal(RefusalCode.WrongFleet, Refused(folder, keys).Code);
    }

    [Fact]
    public void Verify_SignedManifestThatIsNotJson_ManifestNotJson()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var folder = tmp.Sub("p");
        var bytes = Encoding.UTF8.GetBytes("name: yaml-not-json\nversion: 5\n");
        WriteSigned(folder, bytes, key);

        var ex = Refused(folder, keys);

        Assert.Equal(RefusalCode.ManifestNotJson, ex.Code);
        Assert.StartsWith("manifest.json: not JSON", ex.Message);
    }

    [Fact]
    public void Verify_SignedManifestWithWrongFieldType_ManifestSchemaNamingField()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var folder = tmp.Sub("p");
        var bytes = Encoding.UTF8.GetBytes("{\"name\":\"m\",\"version\":\"five\"}");
        WriteSigned(folder, bytes, key);

        var ex = Refused(folder, keys);

        Assert.Equal(RefusalCode.ManifestSchema, ex.Code);
        Assert.Contains("$.version", ex.Message);
    }

    [Fact]
    public void Verify_FileNameLeavingFolder_UnsafePath()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var folder = TestPackages.Build(tmp.Sub("p"), key, TestPackages.Manifest(5));
        var m = TestPackages.Manifest(5);
        m.Classifier!.File = "../outside.onnx";
        m.Classifier.Sha256 = new string('a', 64);
        var bytes = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(m, PackageVerifier.ManifestJson);
        WriteSigned(folder, bytes, key);

        Assert.Equal(RefusalCode.UnsafePath, Refused(folder, keys).Code);
    }

    [Fact]
    public void Archive_CreateThenExtract_SameFilesAndVerifies()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var folder = TestPackages.Build(tmp.Sub("p"), key, TestPackages.Manifest(5));
        var archive = Path.Combine(tmp.Path, "p.tar");

        PackageArchive.Create(folder, archive);
        var dest = Path.Combine(tmp.Path, "out");
        PackageArchive.Extract(archive, dest, maxUnpackedBytes: 1 << 20);

        Assert.Equal(5, PackageVerifier.Verify(dest, keys, Device, null, false).Manifest.Version);
        Assert.Equal(File.ReadAllBytes(Path.Combine(folder, "classifier.onnx")), File.ReadAllBytes(Path.Combine(dest, "classifier.onnx")));
    }

    [Fact]
    public void Extract_UnpacksOverLimit_Oversize()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        var folder = TestPackages.Build(tmp.Sub("p"), key, TestPackages.Manifest(5), classifierBytes: new byte[100_000]);
        var archive = Path.Combine(tmp.Path, "p.tar");
        PackageArchive.Create(folder, archive);

        var ex = Assert.Throws<PackageRefusedException>(() => PackageArchive.Extract(archive, Path.Combine(tmp.Path, "out"), maxUnpackedBytes: 50_000));

        Assert.Equal(RefusalCode.Oversize, ex.Code);
    }

    [Fact]
    public void Extract_NotATar_ArchiveInvalid()
    {
        using var tmp = new TempDir();
        var archive = Path.Combine(tmp.Path, "p.tar");
        File.WriteAllBytes(archive, Encoding.ASCII.GetBytes(new string('z', 1500)));

        var ex = Assert.Throws<PackageRefusedException>(() => PackageArchive.Extract(archive, Path.Combine(tmp.Path, "out"), 1 << 20));

        Assert.Equal(RefusalCode.ArchiveInvalid, ex.Code);
    }

    [Fact]
    public void WireCode_HashMismatch_IsKebabCase() =>
        Assert.Equal("hash-mismatch", PackageRefusedException.ToWire(RefusalCode.HashMismatch));

    /// <summary>Writes <paramref name="bytes"/> as the manifest and signs them, as the fleet tool does.</summary>
    private static void SignManifest(string folder, byte[] bytes, System.Security.Cryptography.ECDsa key)
    {
        WriteSigned(folder, bytes, key);
    }

    /// <summary>The loader (model check, detect, the station) and the fleet verifier refuse with the same kind and message.</summary>
    private static RefusalCode SameRefusal(string folder, TrustedKeys keys)
    {
        var loader = Assert.Throws<ModelPackageException>(() => ModelPackage.Open(folder));
        var fleet = Refused(folder, keys);
        Assert.Equal(PackageProblemRefusal.Code(loader.Kind), fleet.Code);
        Assert.Equal(loader.MessageRelativeTo(folder), fleet.Message);
        return fleet.Code;
    }

    [Fact]
    public void Verify_SignedManifestWithCommentsAndTrailingCommas_AcceptedLikeTheLoader()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var folder = TestPackages.Build(tmp.Sub("p"), key, TestPackages.Manifest(5));
        var text = File.ReadAllText(Path.Combine(folder, "manifest.json"));
        var commented = "// hand-edited package\n" + text.Replace("\"version\": 5,", "\"version\": 5, /* bumped */", StringComparison.Ordinal)
            .Replace("\"classes\": [", "\"classes\": [ // output order\n", StringComparison.Ordinal).TrimEnd()[..^1] + ",\n}";
        SignManifest(folder, Encoding.UTF8.GetBytes(commented), key);

        var verified = PackageVerifier.Verify(folder, keys, Device, installedVersion: 4, rollback: false);
        var loaded = ModelPackage.Open(folder);

        Assert.Equal(5, verified.Manifest.Version);
        Assert.Equal(5, loaded.Manifest.Version);
        Assert.Equal(loaded.Manifest.Classifier!.Classes, verified.Manifest.Classifier!.Classes);
    }

    [Fact]
    public void SameRefusal_NotJson_ManifestNotJson()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var folder = TestPackages.Build(tmp.Sub("p"), key, TestPackages.Manifest(5));
        SignManifest(folder, Encoding.UTF8.GetBytes("name: yaml-not-json\n"), key);

        Assert.Equal(RefusalCode.ManifestNotJson, SameRefusal(folder, keys));
    }

    [Fact]
    public void SameRefusal_FieldOfWrongType_ManifestSchemaNamingField()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var folder = TestPackages.Build(tmp.Sub("p"), key, TestPackages.Manifest(5));
        SignManifest(folder, Encoding.UTF8.GetBytes("{\"name\":\"m\",\"version\":\"five\"}"), key);

        Assert.Equal(RefusalCode.ManifestSchema, SameRefusal(folder, keys));
        Assert.Contains("$.version", Refused(folder, keys).Message);
    }

    [Fact]
    public void SameRefusal_FieldOutOfRange_ManifestSchemaNamingField()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var m = TestPackages.Manifest(5);
        m.Classifier!.Input.Layout = "HWC";
        var folder = TestPackages.Build(tmp.Sub("p"), key, m);

        Assert.Equal(RefusalCode.ManifestSchema, SameRefusal(folder, keys));
        Assert.Contains("classifier.input.layout", Refused(folder, keys).Message);
    }

    [Fact]
    public void SameRefusal_NamedFileAbsent_MissingFile()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var folder = TestPackages.Build(tmp.Sub("p"), key, TestPackages.Manifest(5));
        File.Delete(Path.Combine(folder, "golden", "ok.png"));

        Assert.Equal(RefusalCode.MissingFile, SameRefusal(folder, keys));
    }

    [Fact]
    public void SameRefusal_FileChanged_HashMismatch()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var folder = TestPackages.Build(tmp.Sub("p"), key, TestPackages.Manifest(5));
        File.AppendAllText(Path.Combine(folder, "classifier.onnx"), "x");

        Assert.Equal(RefusalCode.HashMismatch, SameRefusal(folder, keys));
    }

    [Fact]
    public void SameRefusal_FileLeavingFolder_UnsafePath()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var folder = TestPackages.Build(tmp.Sub("p"), key, TestPackages.Manifest(5));
        var m = TestPackages.Manifest(5);
        m.Classifier!.File = "../outside.onnx";
        m.Classifier.Sha256 = new string('a', 64);
        SignManifest(folder, System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(m, PackageVerifier.ManifestJson), key);

        Assert.Equal(RefusalCode.UnsafePath, SameRefusal(folder, keys));
    }
}
