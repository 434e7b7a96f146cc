using System.CommandLine;

// edgeinspect-fleet: the cloud side's command-line tool (issue 6).
var root = new RootCommand("EdgeInspect fleet tool: keys, packages, pushes and remote commands");
return await root.Parse(args).InvokeAsync();
