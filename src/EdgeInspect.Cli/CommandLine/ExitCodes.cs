namespace EdgeInspect.Cli.CommandLine;

/// <summary>
/// The exit codes of every edgeinspect verb.
/// <list type="table">
/// <listheader><term>code</term><description>meaning</description></listheader>
/// <item><term>0</term><description>ok.</description></item>
/// <item><term>1</term><description>the run worked and found problems: images that failed, a golden check that failed, a mode change refused.</description></item>
/// <item><term>2</term><description>bad input or configuration: a command-line parse error or bad option value, a missing or refused file, package, data set, profile or store.</description></item>
/// <item><term>3</term><description>could not reach the service or the broker.</description></item>
/// </list>
/// Errors are one line on stderr, "error: " then the message naming the option, key or file (<see cref="CliErrors"/>).
/// </summary>
internal static class ExitCodes
{
    /// <summary>Everything worked.</summary>
    public const int Ok = 0;

    /// <summary>The run completed and found problems (failed images, golden check failed, refused mode change).</summary>
    public const int Problems = 1;

    /// <summary>Bad input or configuration, parse errors included.</summary>
    public const int BadInput = 2;

    /// <summary>The service or the broker could not be reached.</summary>
    public const int Unreachable = 3;

    /// <summary>
    /// The station stopped because a part of it failed (a hosted service threw, an unrecoverable fault): sysexits'
    /// EX_SOFTWARE, so systemd's <c>Restart=on-failure</c> restarts it.
    /// </summary>
    public const int Software = 70;

    /// <summary>
    /// The station could not start for a reason that may heal (disk full, a device not there yet): sysexits' EX_TEMPFAIL,
    /// restarted by systemd with its backoff.
    /// </summary>
    public const int TempFail = 75;
}
