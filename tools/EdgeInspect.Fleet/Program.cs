using EdgeInspect.Fleet;

// edgeinspect-fleet: the cloud side's command-line tool (issue 6).
return await FleetCli.Build().Parse(args).InvokeAsync();
