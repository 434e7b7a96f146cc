using System.CommandLine;

namespace EdgeInspect.Cli.Commands;

/// <summary>Verbs: run, mode, shadow-report, bench pipeline (issue 4).</summary>
internal static class StationCommands
{
    public static IEnumerable<Command> Create() => [];
}
