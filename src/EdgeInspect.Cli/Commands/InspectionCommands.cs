using System.CommandLine;

namespace EdgeInspect.Cli.Commands;

/// <summary>Verbs: detect, bench cascade (issue 2).</summary>
internal static class InspectionCommands
{
    public static IEnumerable<Command> Create() => [];
}
