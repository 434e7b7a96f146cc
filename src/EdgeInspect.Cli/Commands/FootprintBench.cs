using System.CommandLine;
using EdgeInspect.Cli.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Station.VirtualLine;
using EdgeInspect.Storage.LiteDb;

namespace EdgeInspect.Cli.Commands;

/// <summary>
/// `bench footprint`: the station's start-up time and memory against the size of its store. Fills a temporary store
/// with N paired records, reopens it as `run` does (store, mode controller, engine) and times that, then runs parts
/// through the engine and reports the process's resident set after a full collection.
/// </summary>
internal static class FootprintBench
{
    private const int Group = 1000;
    private const int WarmParts = 300;

    /// <summary>The command.</summary>
    public static Command Create()
    {
        var records = new Option<long>("--records") { Description = "records in the store before the start is measured", DefaultValueFactory = _ => 10_000 };
        var json = new Option<bool>("--json") { Description = "also print one JSON object" };
        var group = new Option<int>("--group") { Description = "parts per durable commit during the warm-up (as Store:GroupCommitMs gathers them)", DefaultValueFactory = _ => 1 };
        var model = new Option<string?>("--model")
        {
            Description = "also measure resident memory with this ONNX model package loaded: one model (the active one), then three (active, candidate, previous)",
        };
        var parts = new Option<int>("--parts") { Description = "warm-up parts through each loaded model", DefaultValueFactory = _ => WarmParts }.InRange(1);
        var cmd = new Command("footprint", "start-up time (store open, mode controller, engine), resident memory after warm-up and bytes written per record, with a store of N records") { records, json, group, model, parts };
        cmd.SetAction(p => Run(p.GetValue(records), p.GetValue(json), Math.Max(1, p.GetValue(group)), p.GetValue(model), p.GetValue(parts)));
        return cmd;
    }

    private static int Run(long count, bool json, int group, string? model, int parts)
    {
        var dir = Directory.CreateTempSubdirectory("edgeinspect-footprint-").FullName;
        try
        {
            var options = new StoreOptions { Path = Path.Combine(dir, "footprint.db") };
            var fill = Stopwatch.StartNew();
            Fill(options, count);
            fill.Stop();
            var fileBytes = new FileInfo(options.Path).Length;

            var start = Stopwatch.StartNew();
            using var store = new LiteDbInspectionStore(options);
            var time = TimeProvider.System;
            var modes = new ModeController(store, new AutomationGate(new GateOptions()), time);
            var engine = new StationEngine(new StationOptions(), new InspectorHost(new SimulatedModelInspector()), modes, store,
                new SimulatedStationOutputs(), null, time);
            start.Stop();
            // What start-up cost before the counters: the engine and the mode controller each read every record.
            var scan = Stopwatch.StartNew();
            var scanned = store.Records().Count();
            scan.Stop();

            var renderer = new PartRenderer(new PartRendererOptions { Seed = 7 });
            // Bytes this process sent to the storage layer (/proc/self/io write_bytes) over the warm-up parts, committed
            // --group at a time as the record stage does with Store:GroupCommitMs (10 parts/s x 1000 ms = 10): the SD card wear per record.
            var writtenBefore = WriteBytes();
            var pending = new List<DecidedPart>(group);
            for (var i = 0; i < WarmParts; i++)
            {
                var image = new ImageBuffer(renderer.Options.Width, renderer.Options.Height);
                var truth = renderer.Render(i, image);
                pending.Add(engine.Decide(new Frame(image, i, time.GetUtcNow(), truth.PartId) { GroundTruth = truth }));
                if (pending.Count < group && i < WarmParts - 1) continue;
                engine.Commit(pending);
                foreach (var p in pending) p.Frame.Dispose();
                pending.Clear();
            }
            var writtenPerRecord = WriteBytes() is { } after && writtenBefore is { } before ? (after - before) / WarmParts : (long?)null;
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            using var self = Process.GetCurrentProcess();
            self.Refresh();
            var result = new
            {
                records = count,
                fileBytes,
                fillSeconds = Math.Round(fill.Elapsed.TotalSeconds, 1),
                startupMs = Math.Round(start.Elapsed.TotalMilliseconds, 1),
                oneFullReadMs = Math.Round(scan.Elapsed.TotalMilliseconds, 1),
                rssBytes = self.WorkingSet64,
                managedBytes = GC.GetTotalMemory(false),
                writtenPerRecordBytes = writtenPerRecord,
                group,
                evidence = modes.Evidence.Paired,
                scanned,
            };
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"store {count} records ({fileBytes / 1048576.0:0.0} MiB, filled in {result.fillSeconds} s): start-up {result.startupMs} ms " +
                $"(one read of every record, which start-up made twice before: {result.oneFullReadMs} ms); " +
                $"after {WarmParts} parts RSS {result.rssBytes / 1048576.0:0.0} MiB, managed heap {result.managedBytes / 1048576.0:0.0} MiB; " +
                $"written per record {(writtenPerRecord is { } w ? $"{w / 1024.0:0.0} KiB" : "n/a (no /proc/self/io)")}"));
            if (json) Console.WriteLine(JsonSerializer.Serialize(result));
            if (model is not null)
            {
                var loaded = ModelFootprint.Measure(StationCommands.ResolvePackage(model), store, parts, group);
                Console.WriteLine(loaded.Table());
                if (json) Console.WriteLine(JsonSerializer.Serialize(loaded));
            }
            return 0;
        }
        finally
        {
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }

    /// <summary>write_bytes from /proc/self/io (bytes this process caused to be sent to storage); null where there is none.</summary>
    private static long? WriteBytes()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/io"))
            {
                if (line.StartsWith("write_bytes:", StringComparison.Ordinal)) return long.Parse(line.AsSpan(12).Trim(), CultureInfo.InvariantCulture);
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    private static void Fill(StoreOptions options, long count)
    {
        using var store = new LiteDbInspectionStore(options);
        var at = new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
        var batch = new List<InspectionRecord>(Group);
        for (long s = 1; s <= count; s++)
        {
            batch.Add(new InspectionRecord
            {
                DeviceId = "bench", Station = "station-1", Sequence = s, PartId = "part-" + s,
                CapturedAt = at.AddMilliseconds(s * 200), DecidedAt = at.AddMilliseconds(s * 200 + 30), Mode = AutomationMode.Shadow,
                Verdict = s % 9 == 0 ? Verdict.Ng : Verdict.Ok, VerdictSource = VerdictSource.Human,
                ModelVerdict = s % 9 == 0 || s % 31 == 0 ? Verdict.Ng : Verdict.Ok, ModelConfidence = 0.93f, ModelClass = "ok",
                HumanVerdict = s % 9 == 0 ? Verdict.Ng : Verdict.Ok, ModelName = "virtual-line", ModelVersion = "1.0.0",
                LatencyMs = new Dictionary<string, double> { ["total"] = 11.5 },
            });
            if (batch.Count == Group || s == count)
            {
                store.AppendMany(batch);
                batch.Clear();
            }
        }
        store.RemoveUpTo(count); // delivered: the outbox is empty, as on a station that keeps its link
    }
}
