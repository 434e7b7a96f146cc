using EdgeInspect.Core.Storage;
using EdgeInspect.Fleet.Protocol.Packages;
using EdgeInspect.Fleet.Protocol.Signing;
using EdgeInspect.Fleet.Protocol.Transfer;
using EdgeInspect.Station.Fleet.Slots;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Slots;

public sealed class PackageInstallerTests
{
    private static readonly DeviceIdentity Device = new("dev-01", "line-a");

    /// <summary>A validator that records calls and can refuse, standing in for the ONNX checks of issue 3.</summary>
    private sealed class RecordingValidator(RefusalCode? refuse = null) : IPackageValidator
    {
        public List<long> Validated { get; } = [];

        public void Validate(VerifiedPackage package, CancellationToken cancellationToken)
        {
            if (refuse is { } code) throw new PackageRefusedException(code, $"{package.Manifest.Classifier!.File}: refused by validator");
            Validated.Add(package.Manifest.Version);
        }
    }

    private static (string Archive, TransferOffer Offer) Package(TempDir tmp, System.Security.Cryptography.ECDsa key, long version, string name, bool rollback = false)
    {
        var folder = TestPackages.Build(tmp.Sub(name), key, TestPackages.Manifest(version));
        var archive = Path.Combine(tmp.Path, name + ".tar");
        PackageArchive.Create(folder, archive);
        return (archive, TestPackages.SignedOffer(archive, key, packageId: name, rollback: rollback));
    }

    private static void Install(PackageInstaller installer, (string Archive, TransferOffer Offer) p, DeviceState state) =>
        installer.Install(p.Archive, state, p.Offer, default);

    /// <summary>Installs and activates (as a promotion does): the floor rises to the version.</summary>
    private static void Activate(PackageInstaller installer, (string Archive, TransferOffer Offer) p, DeviceState state)
    {
        Install(installer, p, state);
        state.PreviousSlot = state.ActiveSlot;
        state.ActiveSlot = state.CandidateSlot;
        state.CandidateSlot = null;
        installer.Activated(state.ActiveSlot);
    }

    [Fact]
    public void Install_ValidPackage_GoesToSpareSlotAsCandidate()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var validator = new RecordingValidator();
        var installer = new PackageInstaller(tmp.Sub("data"), keys, Device, validator, 1 << 20);
        var state = new DeviceState();

        Install(installer, Package(tmp, key, 1, "v1"), state);
        state.ActiveSlot = state.CandidateSlot;
        state.CandidateSlot = null;
        var p2 = Package(tmp, key, 2, "v2");
        var v2 = installer.Install(p2.Archive, state, p2.Offer, default);

        Assert.Equal(("a", "b"), (state.ActiveSlot, state.CandidateSlot));
        Assert.Equal([1L, 2L], validator.Validated);
        Assert.Equal(1, installer.VersionIn("a"));
        Assert.Equal(2, installer.VersionIn("b"));
        Assert.Equal(installer.SlotPath("b"), v2.Folder);
    }

    [Fact]
    public void Install_LowerVersionThanActive_RefusedActiveUntouched()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var installer = new PackageInstaller(tmp.Sub("data"), keys, Device, new RecordingValidator(), 1 << 20);
        var state = new DeviceState();
        Activate(installer, Package(tmp, key, 5, "v5"), state);

        var ex = Assert.Throws<PackageRefusedException>(() => Install(installer, Package(tmp, key, 4, "v4"), state));

        Assert.Equal(RefusalCode.LowerVersion, ex.Code);
        Assert.Null(state.CandidateSlot);
        Assert.Equal(5, installer.VersionIn("a"));
        Assert.Null(installer.VersionIn("b"));
    }

    [Fact]
    public void Install_DowngradeWithOfferRollbackFlag_RefusedAndFloorSurvivesRestart()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var data = tmp.Sub("data");
        var state = new DeviceState();
        Activate(new PackageInstaller(data, keys, Device, new RecordingValidator(), 1 << 20), Package(tmp, key, 4, "v4"), state);
        // The v4 slot is gone (say a v5 trial replaced it and was rejected): only the floor file remembers v4.
        Directory.Delete(Path.Combine(data, "models", state.ActiveSlot!), recursive: true);
        var restarted = new PackageInstaller(data, keys, Device, new RecordingValidator(), 1 << 20);

        var atOffer = Assert.Throws<PackageRefusedException>(() => restarted.CheckOffer(Package(tmp, key, 1, "v1", rollback: true).Offer));
        var atInstall = Assert.Throws<PackageRefusedException>(() => Install(restarted, Package(tmp, key, 1, "v1b", rollback: true), new DeviceState()));

        Assert.Equal(RefusalCode.LowerVersion, atOffer.Code);
        Assert.Contains("below the floor 4", atOffer.Message);
        Assert.Equal(RefusalCode.LowerVersion, atInstall.Code);
        Assert.Equal(4, restarted.Floor.Of("test-defects"));
    }

    [Fact]
    public void Install_DowngradeWithPermit_InstalledAndPromotable()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var installer = new PackageInstaller(tmp.Sub("data"), keys, Device, new RecordingValidator(), 1 << 20);
        var state = new DeviceState();
        Activate(installer, Package(tmp, key, 4, "v4"), state);
        installer.Permits.Grant("test-defects", 2, "key:test", "v4 misses scratches on line A", TimeSpan.FromMinutes(5));

        Install(installer, Package(tmp, key, 2, "v2"), state);

        Assert.Equal(2, installer.VersionIn(state.CandidateSlot));
        Assert.Null(installer.PromotionRefusal(state.CandidateSlot));
        installer.Activated(state.CandidateSlot);
        Assert.Equal(4, installer.Floor.Of("test-defects"));
        Assert.NotNull(installer.PromotionRefusal(state.CandidateSlot));
    }

    [Fact]
    public void VersionFloor_CorruptFile_RefusesDowngradeEvenWithPermitNeverFloorZero()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var data = tmp.Sub("data");
        var state = new DeviceState();
        Activate(new PackageInstaller(data, keys, Device, new RecordingValidator(), 1 << 20), Package(tmp, key, 4, "v4"), state);
        var floorFile = Path.Combine(data, "models", VersionFloor.FileName);
        File.WriteAllText(floorFile, "{\"test-defects\": 4, trunc");
        var restarted = new PackageInstaller(data, keys, Device, new RecordingValidator(), 1 << 20);
        restarted.Permits.Grant("test-defects", 1, "key:test", "would be allowed with a sound floor", TimeSpan.FromMinutes(5));

        var ex = Assert.Throws<PackageRefusedException>(() => restarted.CheckOffer(Package(tmp, key, 1, "v1").Offer));
        restarted.CheckOffer(Package(tmp, key, 6, "v6").Offer);

        Assert.True(restarted.Floor.Corrupt);
        Assert.Equal(RefusalCode.LowerVersion, ex.Code);
        Assert.Contains("damaged", ex.Message);
        Assert.Equal("{\"test-defects\": 4, trunc", File.ReadAllText(floorFile));
    }

    [Fact]
    public void CheckOffer_UnsignedOffer_RefusedAsUnsigned()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var installer = new PackageInstaller(tmp.Sub("data"), keys, Device, new RecordingValidator(), 1 << 20);
        var p = Package(tmp, key, 1, "v1");

        var ex = Assert.Throws<PackageRefusedException>(() => installer.CheckOffer(p.Offer with { Statement = null }));

        Assert.Equal(RefusalCode.Unsigned, ex.Code);
    }

    [Fact]
    public void Install_ManifestDisagreesWithStatement_RefusedAsStatementMismatch()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var installer = new PackageInstaller(tmp.Sub("data"), keys, Device, new RecordingValidator(), 1 << 20);
        var p = Package(tmp, key, 3, "v3");
        // A statement that vouches for version 7 over the archive's true hash: the manifest inside says 3.
        var lying = p.Offer with { Statement = PackageStatement.For(p.Offer, "test-defects", 7, "device:dev-01", DateTimeOffset.UtcNow).Sign(key) };
        var state = new DeviceState();

        var ex = Assert.Throws<PackageRefusedException>(() => installer.Install(p.Archive, state, lying, default));

        Assert.Equal(RefusalCode.StatementMismatch, ex.Code);
        Assert.Contains("version 3", ex.Message);
        Assert.Null(state.CandidateSlot);
    }

    [Fact]
    public void CheckOffer_KeyRevokedInConfig_RefusedAsRevokedKey()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var installer = new PackageInstaller(tmp.Sub("data"), keys, Device, new RecordingValidator(), 1 << 20, revokedKeys: [PackageKeys.KeyId(key)]);

        var ex = Assert.Throws<PackageRefusedException>(() => installer.CheckOffer(Package(tmp, key, 1, "v1").Offer));

        Assert.Equal(RefusalCode.RevokedKey, ex.Code);
        Assert.Equal("revoked-key", ex.WireCode);
    }

    [Fact]
    public void RevokedKeysFile_RevokedByCommand_SurvivesRestartAndDamageStopsStart()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var data = tmp.Sub("data");
        var first = new PackageInstaller(data, keys, Device, new RecordingValidator(), 1 << 20);
        Assert.True(first.RevokedKeys.Revoke(PackageKeys.KeyId(key), "key:ops", DateTimeOffset.UtcNow, "laptop stolen"));

        var restarted = new PackageInstaller(data, keys, Device, new RecordingValidator(), 1 << 20);
        var ex = Assert.Throws<PackageRefusedException>(() => restarted.CheckOffer(Package(tmp, key, 1, "v1").Offer));
        File.WriteAllText(Path.Combine(data, RevokedKeysFile.FileName), "[{\"keyId\": \"nope\"}]");
        var damaged = Assert.Throws<InvalidDataException>(() => new PackageInstaller(data, keys, Device, new RecordingValidator(), 1 << 20));

        Assert.Equal(RefusalCode.RevokedKey, ex.Code);
        Assert.Equal("laptop stolen", restarted.RevokedKeys.Entries.Single().Reason);
        Assert.Contains(RevokedKeysFile.FileName, damaged.Message);
    }

    [Fact]
    public void CheckOffer_StatementForAnotherDevice_RefusedAsWrongDevice()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var installer = new PackageInstaller(tmp.Sub("data"), keys, Device, new RecordingValidator(), 1 << 20);
        var folder = TestPackages.Build(tmp.Sub("p"), key, TestPackages.Manifest(1));
        var archive = Path.Combine(tmp.Path, "p.tar");
        PackageArchive.Create(folder, archive);

        var device = Assert.Throws<PackageRefusedException>(() => installer.CheckOffer(TestPackages.SignedOffer(archive, key, "device:dev-02")));
        var fleet = Assert.Throws<PackageRefusedException>(() => installer.CheckOffer(TestPackages.SignedOffer(archive, key, "fleet:line-b")));
        installer.CheckOffer(TestPackages.SignedOffer(archive, key, "fleet:line-a"));

        Assert.Equal(RefusalCode.WrongDevice, device.Code);
        Assert.Equal(RefusalCode.WrongFleet, fleet.Code);
    }

    [Fact]
    public void CheckOffer_StatementTampered_RefusedAsBadSignature()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var installer = new PackageInstaller(tmp.Sub("data"), keys, Device, new RecordingValidator(), 1 << 20);
        var offer = Package(tmp, key, 1, "v1").Offer;
        var s = offer.Statement!;

        var ex = Assert.Throws<PackageRefusedException>(() => installer.CheckOffer(offer with
        {
            Statement = s with { Signed = s.Signed.Replace("\"version\":1", "\"version\":9", StringComparison.Ordinal) },
        }));

        Assert.Equal(RefusalCode.BadSignature, ex.Code);
        Assert.Contains("\"version\":1", s.Signed);
    }

    [Fact]
    public void Install_ValidatorRefuses_NoCandidateNoStagingLeft()
    {
        using var tmp = new TempDir();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var data = tmp.Sub("data");
        var installer = new PackageInstaller(data, keys, Device, new RecordingValidator(RefusalCode.GoldenFailed), 1 << 20);
        var state = new DeviceState { ActiveSlot = "a" };

        var ex = Assert.Throws<PackageRefusedException>(() => Install(installer, Package(tmp, key, 1, "v1"), state));

        Assert.Equal(RefusalCode.GoldenFailed, ex.Code);
        Assert.Null(state.CandidateSlot);
        Assert.False(Directory.Exists(Path.Combine(data, "models", ".staging")));
        Assert.False(Directory.Exists(installer.SlotPath("b")));
    }
}
