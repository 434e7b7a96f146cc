using EdgeInspect.Core.Storage;
using EdgeInspect.Fleet.Protocol.Packages;
using EdgeInspect.Fleet.Protocol.Signing;
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

    private static string Archive(TempDir tmp, System.Security.Cryptography.ECDsa key, long version, string name)
    {
        var folder = TestPackages.Build(tmp.Sub(name), key, TestPackages.Manifest(version));
        var archive = Path.Combine(tmp.Path, name + ".tar");
        PackageArchive.Create(folder, archive);
        return archive;
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

        installer.Install(Archive(tmp, key, 1, "v1"), state, rollback: false, default);
        state.ActiveSlot = state.CandidateSlot;
        state.CandidateSlot = null;
        var v2 = installer.Install(Archive(tmp, key, 2, "v2"), state, rollback: false, default);

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
        installer.Install(Archive(tmp, key, 5, "v5"), state, false, default);
        state.ActiveSlot = state.CandidateSlot;
        state.CandidateSlot = null;

        var ex = Assert.Throws<PackageRefusedException>(() => installer.Install(Archive(tmp, key, 4, "v4"), state, false, default));

        Assert.Equal(RefusalCode.LowerVersion, ex.Code);
        Assert.Null(state.CandidateSlot);
        Assert.Equal(5, installer.VersionIn("a"));
        Assert.Null(installer.VersionIn("b"));
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

        var ex = Assert.Throws<PackageRefusedException>(() => installer.Install(Archive(tmp, key, 1, "v1"), state, false, default));

        Assert.Equal(RefusalCode.GoldenFailed, ex.Code);
        Assert.Null(state.CandidateSlot);
        Assert.False(Directory.Exists(Path.Combine(data, "models", ".staging")));
        Assert.False(Directory.Exists(installer.SlotPath("b")));
    }
}
