using EdgeInspect.Core.Storage;
using EdgeInspect.Fleet.Protocol.Packages;
using EdgeInspect.Fleet.Protocol.Signing;

namespace EdgeInspect.Station.Fleet.Slots;

/// <summary>
/// Installs a received archive into the spare model slot (folders "a" and "b" under the data dir): extract to a
/// staging folder, verify (<see cref="PackageVerifier"/>), validate (<see cref="IPackageValidator"/>), then
/// replace the spare slot and record it as the candidate. The active slot is never touched, so the serving model
/// keeps serving whatever is refused; the previous slot is only overwritten when it is the spare one.
/// </summary>
public sealed class PackageInstaller(string dataDirectory, TrustedKeys keys, DeviceIdentity device, IPackageValidator validator, long maxUnpackedBytes)
{
    public static readonly string[] Slots = ["a", "b"];

    public string SlotPath(string slot) => Path.Combine(dataDirectory, "models", slot);

    public static string SpareSlot(DeviceState state) => state.ActiveSlot == "a" ? "b" : "a";

    /// <summary>The installed package's version in <paramref name="slot"/>, or null when the slot is empty or unreadable.</summary>
    public long? VersionIn(string? slot)
    {
        if (slot is null) return null;
        var path = Path.Combine(SlotPath(slot), PackageVerifier.ManifestFileName);
        if (!File.Exists(path)) return null;
        try
        {
            return PackageVerifier.ParseManifest(File.ReadAllBytes(path)).Version;
        }
        catch (PackageRefusedException)
        {
            return null;
        }
    }

    /// <summary>Installs into the spare slot and sets <see cref="DeviceState.CandidateSlot"/>; the caller persists the state.</summary>
    /// <param name="commit">
    /// Optional: runs the final step (choose the spare slot from <paramref name="state"/>, replace it, update the slots)
    /// inside the caller's critical section, so a promotion or rollback cannot change which slot is spare between
    /// the choice and the move. The caller may refresh <paramref name="state"/>'s slots before invoking the step.
    /// </param>
    public VerifiedPackage Install(string archivePath, DeviceState state, bool rollback, CancellationToken cancellationToken,
        Action<Action>? commit = null)
    {
        var staging = Path.Combine(dataDirectory, "models", ".staging");
        if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
        try
        {
            PackageArchive.Extract(archivePath, staging, maxUnpackedBytes);
            var verified = PackageVerifier.Verify(staging, keys, device, VersionIn(state.ActiveSlot), rollback);
            validator.Validate(verified, cancellationToken);

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
}
