namespace EdgeInspect.Cloud.Reports;

/// <summary>The rollout states of a model version on a device, most current first.</summary>
public static class RolloutStates
{
    /// <summary>Serving the line (the status's active slot).</summary>
    public const string Active = "active";

    /// <summary>Shadowing beside the active model (the status's candidate slot).</summary>
    public const string Candidate = "candidate";

    /// <summary>Was active and was rolled back (by an operator or the device's watch).</summary>
    public const string RolledBack = "rolled-back";

    /// <summary>Was the candidate and the device's shadow trial rejected it.</summary>
    public const string Rejected = "rejected";

    /// <summary>Received, verified and installed, and neither active nor candidate now (replaced, or the previous slot).</summary>
    public const string Installed = "installed";

    public static readonly IReadOnlyList<string> All = [Active, Candidate, RolledBack, Rejected, Installed];
}
