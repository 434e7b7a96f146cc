using System.CommandLine;
using EdgeInspect.Cli.CommandLine;
using EdgeInspect.Cli.Commands;

// edgeinspect: one executable with verbs. With no verb it runs the station ("run").
var root = new RootCommand("EdgeInspect edge inference runtime for inspection stations");
foreach (var command in InspectionCommands.Create()) root.Subcommands.Add(command);
foreach (var command in ModelCommands.Create()) root.Subcommands.Add(command);
foreach (var command in StationCommands.Create()) root.Subcommands.Add(command);
foreach (var command in StoreCommands.Create()) root.Subcommands.Add(command);

if (args.Length == 0 || (args[0].StartsWith('-') && args[0] is not ("-h" or "--help" or "-?" or "--version")))
{
    args = ["run", .. args];
}

var parse = root.Parse(args);
// Parse errors (validators' too) exit 2 like any other bad input, one "error:" line each (ExitCodes).
if (CliErrors.ParseErrors(parse) is { } parseFailed) return parseFailed;
// Signals are the host's business: System.CommandLine would otherwise force the process down 2 s after Ctrl-C or
// SIGTERM, killing the station mid-drain (a frame still inside ONNX Runtime) instead of letting every captured
// part be recorded. The host's console / systemd lifetime stops the services in order; verbs without a host end
// on the default signal behaviour.
return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
