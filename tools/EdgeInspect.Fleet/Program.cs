using EdgeInspect.Fleet;

// edgeinspect-fleet: the cloud side's command-line tool.
return await FleetCli.RunAsync(args);
