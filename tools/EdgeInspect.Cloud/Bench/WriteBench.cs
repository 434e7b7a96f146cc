using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EdgeInspect.Cloud.Ingest;
using EdgeInspect.Cloud.Ingest.Intake;
using EdgeInspect.Cloud.Ingest.Parsing;
using EdgeInspect.Cloud.Ingest.Schema;
using EdgeInspect.Cloud.Ingest.Writing;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace EdgeInspect.Cloud.Bench;

/// <summary>
/// <c>bench write</c>: the ingest's write path alone, without MQTT or stations: N records as the devices serialize them
/// (<see cref="RecordJson"/>), parsed (<see cref="MessageParser"/>) and written (<see cref="IngestWriter"/>) in batches of
/// the ingest's batch size, one after the other as the ingest loop does. Reports records per second, the parse's
/// share, and this process's CPU per 1000 records; then the same records again (every one a duplicate, as after a
/// device re-sends) to show the cost of <c>ON CONFLICT DO NOTHING</c>.
/// </summary>
public static class WriteBench
{
    public static async Task<int> RunAsync(IConfiguration configuration, List<string> args)
    {
        int records = 100_000, devices = 100;
        for (var i = 0; i < args.Count; i++)
        {
            string Next() => i + 1 < args.Count ? args[++i] : throw new ArgumentException($"{args[i]}: needs a value");
            switch (args[i])
            {
                case "--records": records = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--devices": devices = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException($"unknown argument '{args[i]}'");
            }
        }
        if (records < 1 || devices < 1) throw new ArgumentException("--records and --devices must be positive");
        var options = configuration.GetSection(IngestOptions.SectionName).Get<IngestOptions>() ?? new IngestOptions();
        options.Validate();
        await using var db = NpgsqlDataSource.Create(options.ConnectionString);
        await SchemaMigrator.MigrateAsync(db);
        await new PartitionMaintainer(db, options).MaintainAsync();
        var run = "write" + DateTime.UtcNow.ToString("HHmmss", CultureInfo.InvariantCulture);
        var now = DateTimeOffset.UtcNow;
        var messages = Messages(options, run, records, devices, now);
        Console.WriteLine($"bench write: {records} records of {messages.Average(m => m.Size):0} bytes from {devices} devices, batches of {options.BatchSize} (Ingest:BatchSize)");
        await using var writer = new IngestWriter(db);
        var parser = new MessageParser(options);
        // A warm-up of other devices first, so the JIT and the connection are not in the figures.
        foreach (var chunk in Messages(options, run + "w", Math.Min(records, 2 * options.BatchSize), devices, now).Chunk(options.BatchSize))
        {
            await writer.WriteAsync(parser.Parse(chunk), CancellationToken.None);
        }
        var inv = CultureInfo.InvariantCulture;
        foreach (var pass in new[] { "new records", "all duplicates" })
        {
            var me = Process.GetCurrentProcess();
            var cpu0 = me.TotalProcessorTime;
            var parse = TimeSpan.Zero;
            long inserted = 0;
            var sw = Stopwatch.StartNew();
            foreach (var chunk in messages.Chunk(options.BatchSize))
            {
                var p0 = Stopwatch.GetTimestamp();
                var batch = parser.Parse(chunk);
                parse += Stopwatch.GetElapsedTime(p0);
                inserted += (await writer.WriteAsync(batch, CancellationToken.None)).Inserted;
            }
            var wall = sw.Elapsed;
            me.Refresh();
            var cpu = me.TotalProcessorTime - cpu0;
            Console.WriteLine(string.Create(inv,
                $"{pass}: {records / wall.TotalSeconds:0} records/s ({records} in {wall.TotalSeconds:0.00} s, {inserted} new rows); parse {parse.TotalMilliseconds * 1000 / records:0.0} ms per 1000 records; this process's CPU {cpu.TotalMilliseconds * 1000 / records:0} ms per 1000 records"));
        }
        return 0;
    }

    private static IngestMessage[] Messages(IngestOptions options, string run, int records, int devices, DateTimeOffset now) =>
        [.. Enumerable.Range(0, records).Select(i =>
        {
            var device = $"{run}-{i % devices:D4}";
            var record = new InspectionRecord
            {
                DeviceId = device, Station = "bench", StoreEpoch = "e1", Sequence = i / devices + 1, CapturedAt = now, DecidedAt = now,
                Mode = AutomationMode.Full, Verdict = i % 20 == 0 ? Verdict.Ng : Verdict.Ok, VerdictSource = VerdictSource.Model,
                ModelName = "bench", ModelVersion = "1", ModelVerdict = i % 20 == 0 ? Verdict.Ng : Verdict.Ok, ModelConfidence = 0.97f,
                LatencyMs = new Dictionary<string, double> { ["total"] = 12.5 },
            };
            var payload = JsonSerializer.SerializeToUtf8Bytes(record, RecordJson.Options);
            return new IngestMessage($"{options.TopicPrefix}/{device}/records", payload, payload.Length, now);
        })];
}
