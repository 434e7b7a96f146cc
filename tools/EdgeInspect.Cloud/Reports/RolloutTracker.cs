using System.Text.RegularExpressions;

namespace EdgeInspect.Cloud.Reports;

/// <summary>
/// Derives each model version's rollout state per device from what the devices publish: the fleet events on
/// <c>events</c> (<c>package-installed</c>, <c>model-promoted</c>, <c>model-rolled-back</c>, <c>model-auto-rollback</c>,
/// <c>candidate-rejected</c>; their <c>from</c> / <c>to</c> name the model as "name vVERSION (slot x)") replayed in the
/// device's order, then the latest status (<c>fleet.active</c> and <c>fleet.candidate</c>), which wins: it is what the
/// device runs now, and it is there even when the events are past retention.
/// </summary>
public sealed partial class RolloutTracker
{
    private readonly Dictionary<(string Name, string Version), Dictionary<string, FleetView.RolloutDevice>> _byModel = [];

    /// <summary>One fleet event of <paramref name="deviceId"/>; call in the device's order.</summary>
    public void Event(string deviceId, string kind, DateTimeOffset? at, string? from, string? to)
    {
        switch (kind)
        {
            case "package-installed": Set(deviceId, Parse(to), RolloutStates.Installed, at); break;
            case "model-promoted":
                Set(deviceId, Parse(from), RolloutStates.Installed, at);
                Set(deviceId, Parse(to), RolloutStates.Active, at);
                break;
            case "model-rolled-back" or "model-auto-rollback":
                Set(deviceId, Parse(from), RolloutStates.RolledBack, at);
                Set(deviceId, Parse(to), RolloutStates.Active, at);
                break;
            case "candidate-rejected": Set(deviceId, Parse(from), RolloutStates.Rejected, at); break;
        }
    }

    /// <summary>The device's latest status: its active and candidate models are so now, whatever the events said.</summary>
    public void Status(string deviceId, FleetView.ModelRef? active, FleetView.ModelRef? candidate)
    {
        foreach (var (model, devices) in _byModel)
        {
            // a model the events left active or candidate that the status no longer names was replaced meanwhile
            if (devices.TryGetValue(deviceId, out var d) && d.State is RolloutStates.Active or RolloutStates.Candidate
                && !Same(active, model) && !Same(candidate, model))
            {
                devices[deviceId] = d with { State = RolloutStates.Installed };
            }
        }
        if (active is { Name: not null, Version: not null }) Keep(deviceId, (active.Name, active.Version), RolloutStates.Active);
        if (candidate is { Name: not null, Version: not null }) Keep(deviceId, (candidate.Name, candidate.Version), RolloutStates.Candidate);
    }

    /// <summary>Every model version seen, newest version first within a name; devices by id.</summary>
    public IReadOnlyList<FleetView.Rollout> Rollouts() =>
        [.. _byModel.OrderBy(kv => kv.Key.Name, StringComparer.Ordinal).ThenByDescending(kv => kv.Key.Version, VersionOrder.Instance)
            .Select(kv => new FleetView.Rollout(new FleetView.ModelRef(kv.Key.Name, kv.Key.Version),
                [.. kv.Value.Values.OrderBy(d => d.DeviceId, StringComparer.Ordinal)]))];

    /// <summary>"defects v3 (slot b)" or "defects v3" to (defects, 3); null for a bare slot name or nothing.</summary>
    public static (string Name, string Version)? Parse(string? described)
    {
        if (described is null || Described().Match(described) is not { Success: true } m) return null;
        return (m.Groups["name"].Value, m.Groups["version"].Value);
    }

    private static bool Same(FleetView.ModelRef? m, (string Name, string Version) key) => m is not null && m.Name == key.Name && m.Version == key.Version;

    private void Set(string deviceId, (string Name, string Version)? model, string state, DateTimeOffset? at)
    {
        if (model is not { } key) return;
        if (!_byModel.TryGetValue(key, out var devices)) _byModel[key] = devices = [];
        devices[deviceId] = new FleetView.RolloutDevice(deviceId, state, at);
    }

    private void Keep(string deviceId, (string Name, string Version) key, string state)
    {
        if (!_byModel.TryGetValue(key, out var devices)) _byModel[key] = devices = [];
        // the event that made it so keeps its time (an install is what made a model the candidate); a state only the
        // status shows has none
        var since = devices.TryGetValue(deviceId, out var d) && (d.State == state || (state == RolloutStates.Candidate && d.State == RolloutStates.Installed))
            ? d.Since : null;
        devices[deviceId] = new FleetView.RolloutDevice(deviceId, state, since);
    }

    // FleetStatusProjection.Describe on the device: "<name> v<version>", then " (slot <slot>)" when a slot is known.
    [GeneratedRegex(@"^(?<name>.+) v(?<version>\S+?)(?: \(slot [^)]*\))?$", RegexOptions.CultureInvariant)]
    private static partial Regex Described();

    /// <summary>Versions compared as numbers when both are (manifest versions are monotonic integers), else as text.</summary>
    private sealed class VersionOrder : IComparer<string>
    {
        public static readonly VersionOrder Instance = new();

        public int Compare(string? x, string? y) =>
            long.TryParse(x, out var a) && long.TryParse(y, out var b) ? a.CompareTo(b) : string.CompareOrdinal(x, y);
    }
}
