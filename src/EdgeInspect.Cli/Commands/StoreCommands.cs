using System.CommandLine;

namespace EdgeInspect.Cli.Commands;

/// <summary>Verbs: store stats / export (issue 5).</summary>
internal static class StoreCommands
{
    public static IEnumerable<Command> Create() => [];
}
