using EdgeInspect.Fleet;

// edgeinspect-fleet: the cloud side's command-line tool.
return await FleetCli.Build().Parse(args).InvokeAsync();
