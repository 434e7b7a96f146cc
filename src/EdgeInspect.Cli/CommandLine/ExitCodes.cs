namespace EdgeInspect.Cli.CommandLine;

/// <summary>
/// Exit codes of every verb: 0 ok; 1 the run finished but found problems (failed images, a failed golden check, a
/// refused mode change); 2 bad input or configuration (unknown option, bad value, missing file, bad package or
/// profile); 3 could not reach the service or the broker.
/// </summary>
public static class ExitCodes
{
    /// <summary>Done, nothing wrong.</summary>
    public const int Ok = 0;

    /// <summary>The run finished and found problems.</summary>
    public const int Problems = 1;

    /// <summary>Bad input or configuration.</summary>
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
