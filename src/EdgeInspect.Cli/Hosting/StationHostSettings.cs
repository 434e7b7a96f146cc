namespace EdgeInspect.Cli.Hosting;

/// <summary>What a station host needs beyond its configuration.</summary>
public sealed class StationHostSettings
{
    /// <summary>
    /// Where a relative <c>Model:Package</c> is looked for when the working folder has no such folder: the repository
    /// root beside device-config/, so `edgeinspect run` works from any folder of a clone.
    /// </summary>
    public string? PackageSearchRoot { get; init; }

    /// <summary>Where the live progress line and the summary at stop are written.</summary>
    public TextWriter Progress { get; init; } = Console.Out;
}
