using EdgeInspect.Cloud;

// edgeinspect-cloud: the cloud ingest (MQTT -> PostgreSQL -> acks) and its bench.
return await CloudCli.RunAsync(args);
