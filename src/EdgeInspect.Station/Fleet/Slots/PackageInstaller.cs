using EdgeInspect.Core.Packages;
using EdgeInspect.Core.Storage;
using EdgeInspect.Fleet.Protocol.Packages;
using EdgeInspect.Fleet.Protocol.Signing;
using EdgeInspect.Fleet.Protocol.Transfer;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Station.Fleet.Slots;

/// <summary>
/// Installs a received archive into the spare model slot (folders "a" and "b" under the data dir): check the offer's
/// signed statement (<see cref="CheckOffer"/>), extract to a staging folder, verify (<see cref="PackageVerifier"/>), match
/// the manifest with the statement, validate (<see cref="IPackageValidator"/>), then replace the spare slot and record it
/// as the candidate. The active slot is never touched, so the serving model keeps serving whatever is refused; the
/// previous slot is only overwritten when it is the spare one. Holds the device's anti-rollback floor, rollback permits
/// and key revocations, since every one of them decides what may be installed.
/// </summary>
public sealed class PackageInstaller
{
    public static readonly string[] Slots = ["a", "b"];

    private readonly string _dataDirectory;
    private readonly TrustedKeys _keys;
    private readonly DeviceIdentity _device;
    private readonly IPackageValidator _validator;
    private readonly long _maxUnpackedBytes;
    private readonly int _maxEntries;

    /// <param name="revokedKeys">Key ids revoked in the device config (<c>Fleet:RevokedKeys</c>).</param>
    /// <param name="maxArchiveEntries">Most entries an archive may hold (<see cref="PackageArchive.Extract"/>).</param>
    public PackageInstaller(string dataDirectory, TrustedKeys keys, DeviceIdentity device, IPackageValidator validator, long maxUnpackedBytes,
        IEnumerable<string>? revokedKeys = null, TimeProvider? time = null, int maxArchiveEntries = PackageArchive.DefaultMaxEntries, ILogger? log = null)
    {
        _dataDirectory = dataDirectory;
        _keys = keys;
        _device = device;
        _validator = validator;
        _maxUnpackedBytes = maxUnpackedBytes;
        _maxEntries = maxArchiveEntries;
        Floor = new VersionFloor(Path.Combine(dataDirectory, "models"), log);
        RevokedKeys = new RevokedKeysFile(dataDirectory, revokedKeys);
        Time = time ?? TimeProvider.System;
        Permits = new RollbackPermits(Time);
    }

    /// <summary>The clock permits and revocations are stamped with.</summary>
    public TimeProvider Time { get; }

    /// <summary>The highest version ever active, per package name.</summary>
    public VersionFloor Floor { get; }

    /// <summary>Downgrades an override key allowed.</summary>
    public RollbackPermits Permits { get; }

    /// <summary>Revoked keys, configured and by command; commands consult <see cref="RevokedKeysFile.Revocations"/> too.</summary>
    public RevokedKeysFile RevokedKeys { get; }

    /// <summary>Who this device is, for the statement's and the manifest's target.</summary>
    public DeviceIdentity Device => _device;

    public string SlotPath(string slot) => Path.Combine(_dataDirectory, "models", slot);

    public static string SpareSlot(DeviceState state) => state.ActiveSlot == "a" ? "b" : "a";

    /// <summary>The installed package's version in <paramref name="slot"/>, or null when the slot is empty or unreadable.</summary>
    public long? VersionIn(string? slot) => ManifestIn(slot)?.Version;

    /// <summary>The installed package's manifest in <paramref name="slot"/>, or null when the slot is empty or unreadable.</summary>
    public ModelManifest? ManifestIn(string? slot)
    {
        if (slot is null) return null;
        var path = Path.Combine(SlotPath(slot), PackageVerifier.ManifestFileName);
        if (!File.Exists(path)) return null;
        try
        {
            return PackageVerifier.ParseManifest(File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is PackageRefusedException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The highest version of <paramref name="name"/> in either slot (the floor's fallback when its file is damaged).</summary>
    public long? SlotFloor(string name) =>
        Slots.Select(ManifestIn).Where(m => m is not null && string.Equals(m.Name, name, StringComparison.Ordinal)).Max(m => (long?)m!.Version);

    /// <summary>
    /// The checks an offer passes before any chunk is taken: its signed statement (<see cref="PackageStatement.Verify"/>:
    /// signed, trusted and unrevoked key, matching the offer, for this device or fleet) and the version floor. Throws
    /// <see cref="PackageRefusedException"/>.
    /// </summary>
    public PackageStatement CheckOffer(TransferOffer offer)
    {
        var statement = PackageStatement.Verify(offer, _keys, _device, RevokedKeys.Revocations);
        if (FloorRefusal(statement.Name, statement.Version) is { } why) throw new PackageRefusedException(RefusalCode.LowerVersion, why);
        return statement;
    }

    /// <summary>Why the candidate in <paramref name="slot"/> may not become active; null when it may.</summary>
    public string? PromotionRefusal(string? slot) =>
        ManifestIn(slot) is { } m ? FloorRefusal(m.Name, m.Version) : null;

    /// <summary>The package in <paramref name="slot"/> became active: raise its floor, spend its permit.</summary>
    public void Activated(string? slot)
    {
        if (ManifestIn(slot) is not { } m) return;
        Floor.Raise(m.Name, m.Version);
        Permits.Consume(m.Name, m.Version);
    }

    /// <summary>
    /// Installs into the spare slot and sets <see cref="DeviceState.CandidateSlot"/>; the caller persists the state. The
    /// offer is checked again (<see cref="CheckOffer"/>), since a key may have been revoked while the chunks arrived.
    /// </summary>
    /// <param name="commit">
    /// Optional: runs the final step (choose the spare slot from <paramref name="state"/>, replace it, update the slots)
    /// inside the caller's critical section, so a promotion or rollback cannot change which slot is spare between
    /// the choice and the move. The caller may refresh <paramref name="state"/>'s slots before invoking the step.
    /// </param>
    public VerifiedPackage Install(string archivePath, DeviceState state, TransferOffer offer, CancellationToken cancellationToken,
        Action<Action>? commit = null)
    {
        var statement = CheckOffer(offer);
        var staging = Path.Combine(_dataDirectory, "models", ".staging");
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        try
        {
            PackageArchive.Extract(archivePath, staging, _maxUnpackedBytes, _maxEntries);
            var permitted = Permits.Find(statement.Name, statement.Version) is not null;
            var verified = PackageVerifier.Verify(staging, _keys, _device, VersionIn(state.ActiveSlot), permitted, RevokedKeys.Revocations);
            if (statement.Disagreement(verified.Manifest) is { } why)
                throw new PackageRefusedException(RefusalCode.StatementMismatch, $"{PackageVerifier.ManifestFileName}: {why}");
            _validator.Validate(verified, cancellationToken);

            var target = "";
            void Commit()
            {
                var spare = SpareSlot(state);
                target = SlotPath(spare);
                if (Directory.Exists(target)) Directory.Delete(target, recursive: true);
                Directory.Move(staging, target);
                state.CandidateSlot = spare;
                if (state.PreviousSlot == spare) state.PreviousSlot = null;
            }
            if (commit is null) Commit();
            else commit(Commit);
            return verified with { Folder = target };
        }
        finally
        {
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        }
    }

    private string? FloorRefusal(string name, long version) =>
        Floor.Refusal(name, version, Permits.Find(name, version) is not null, SlotFloor(name));
}
