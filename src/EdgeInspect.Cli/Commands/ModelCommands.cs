using System.CommandLine;

namespace EdgeInspect.Cli.Commands;

/// <summary>Verbs: eval, model packages (issue 3).</summary>
internal static class ModelCommands
{
    public static IEnumerable<Command> Create() => [];
}
