namespace EdgeInspect.Cloud.Reports;

/// <summary>
/// What <c>report</c> shows: one line per device, parts and NG per hour and per day, shadow agreement per model
/// version across the fleet, and each model version's rollout state per device. Times are UTC.
/// </summary>
public sealed record FleetView(
    DateTimeOffset At,
    IReadOnlyList<FleetView.Device> Devices,
    IReadOnlyList<FleetView.Period> Hours,
    IReadOnlyList<FleetView.Period> Days,
    IReadOnlyList<FleetView.Agreement> AgreementByVersion,
    IReadOnlyList<FleetView.Rollout> Rollouts)
{
    /// <summary>
    /// One device: its latest status (birth / death, mode, active and candidate model), parts and NG over the last hour
    /// and 24 hours, open alarms, the camera input's drift score from its telemetry, its shadow agreement per model
    /// version over 24 hours, and its own hourly and daily counts.
    /// </summary>
    public sealed record Device(
        string DeviceId, string? State, DateTimeOffset? LastSeen, string? Mode, ModelRef? Active, ModelRef? Candidate,
        long PartsHour, long NgHour, long PartsDay, long NgDay, IReadOnlyList<Alarm> OpenAlarms, Drift? Drift,
        IReadOnlyList<Agreement> Agreement, IReadOnlyList<Period> Hours, IReadOnlyList<Period> Days);

    /// <summary>A model by name and version (the name is null where only the version is known: a candidate's records).</summary>
    public sealed record ModelRef(string? Name, string? Version)
    {
        public override string ToString() => (Name is null ? "" : Name + " ") + "v" + Version;
    }

    /// <summary>Parts decided in one hour or day (its start) and how many were NG.</summary>
    public sealed record Period(DateTimeOffset Start, long Parts, long Ng)
    {
        public double? NgRate => Parts == 0 ? null : (double)Ng / Parts;
    }

    /// <summary>
    /// An alarm raised and not cleared since: its name, when the device raised it, the value that raised it and the
    /// device's description of the rule.
    /// </summary>
    public sealed record Alarm(string Name, DateTimeOffset? Since, string? Value, string? Reason);

    /// <summary>
    /// The camera input's drift score from the device's telemetry (<c>input.driftScore</c>: the largest of brightness,
    /// contrast and sharpness mean shifts from the model's baseline, in baseline standard deviations): the latest
    /// snapshot's and the highest over the last hour.
    /// </summary>
    public sealed record Drift(double Latest, DateTimeOffset LatestAt, double? MaxHour);

    /// <summary>
    /// Model-versus-human agreement of one model version on parts a human also judged: as the active model (its
    /// verdict) or as a three-way-shadow candidate (its candidate verdict), with the Wilson 95 % interval.
    /// </summary>
    public sealed record Agreement(ModelRef Model, string Role, long Paired, long Agreed, double Lower, double Upper);

    /// <summary>Where one model version stands on each device that has had it.</summary>
    public sealed record Rollout(ModelRef Model, IReadOnlyList<RolloutDevice> Devices)
    {
        public int Count(string state) => Devices.Count(d => d.State == state);
    }

    /// <summary>
    /// One device's state for a model version (<see cref="RolloutStates"/>) and since when (the event that put it
    /// there; null when only the status says so).
    /// </summary>
    public sealed record RolloutDevice(string DeviceId, string State, DateTimeOffset? Since);
}
