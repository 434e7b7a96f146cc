namespace EdgeInspect.Cli.CommandLine;

/// <summary>A failure a verb reports as one "error:" line with <see cref="ExitCode"/>; thrown by the shared helpers, caught by <see cref="CliErrors.Guard"/>.</summary>
internal sealed class CliException(string message, int exitCode = ExitCodes.BadInput) : Exception(message)
{
    /// <summary>The process exit code (<see cref="ExitCodes"/>).</summary>
    public int ExitCode { get; } = exitCode;
}
