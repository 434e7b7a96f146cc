using System.CommandLine;

namespace EdgeInspect.Cli.Commands;

/// <summary>The `bench` subcommands that live beside other verbs: bench store (issue 5).</summary>
internal static partial class InspectionCommands
{
    static partial void AddBenchSubcommands(Command bench)
    {
        bench.Subcommands.Add(StoreCommands.BenchStore());
    }
}
