using System.CommandLine;
using System.Text.Json;
using EdgeInspect.Cli.CommandLine;
using EdgeInspect.Cli.Hosting;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Shadow;
using EdgeInspect.Imaging.OpenCv.Capture;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.VirtualLine;
using EdgeInspect.Storage.LiteDb;

namespace EdgeInspect.Cli.Commands;

/// <summary>Verbs of the station: run, mode, shadow-report, simulate.</summary>
internal static class StationCommands
{
    public static IEnumerable<Command> Create() => [Run(), Mode(), ShadowReport(), Simulate()];

    /// <summary>A relative package path resolves against the working folder, then the repository root (beside device-config/).</summary>
    internal static string ResolvePackage(string package) => StationParts.ResolvePackage(package, RepositoryRoot);

    private static string? RepositoryRoot => Path.GetDirectoryName(ProfileOption.ConfigRoot());

    private static Command Run()
    {
        var profileOption = ProfileOption.Create();
        var cmd = new Command("run", "Run the station worker service (the default verb)") { profileOption };
        cmd.SetAction((parse, ct) => CliErrors.GuardAsync(async () =>
        {
            var builder = StationHost.CreateBuilder(ProfileOption.Load(parse), new StationHostSettings { PackageSearchRoot = RepositoryRoot });
            using var host = builder.Build();
            return await StationHost.RunAsync(host, Console.Out, ct);
        }));
        return cmd;
    }

    private static Command Mode()
    {
        var mode = new Command("mode", "Show or set the station's degree of automation");
        var show = new Command("show", "Print the persisted mode") { ProfileOption.Create(), StoreLocation.DbOption() };
        show.SetAction(parse => CliErrors.Guard(() =>
        {
            // A snapshot copy: it works while the service holds the live file.
            using var snapshot = LiteDbInspectionStore.OpenSnapshot(StoreLocation.Resolve(parse));
            Console.WriteLine(snapshot.Store.LoadState().Mode.ToWire());
            return ExitCodes.Ok;
        }));
        var target = new Argument<string>("MODE") { Description = "human | shadow | assist | partial | full" };
        target.Validators.Add(r =>
        {
            if (r.Tokens.Count == 1 && !AutomationModes.TryParse(r.Tokens[0].Value, out _))
                r.AddError($"MODE: unknown mode '{r.Tokens[0].Value}' (human, shadow, assist, partial, full)");
        });
        var reason = new Option<string>("--reason") { Description = "why (audited)", Required = true };
        var force = new Option<bool>("--force") { Description = "move past the shadow-evidence gate (the reason is audited)" };
        var set = new Command("set", "Change the mode through the running service (exit 1 when it refuses, 3 when no service answers)")
        {
            target, reason, force, ProfileOption.Create(), StoreLocation.DbOption(),
        };
        set.SetAction((parse, ct) => CliErrors.GuardAsync(async () =>
        {
            string folder = StationParts.ControlFolder(StoreLocation.Resolve(parse, mustExist: false));
            var request = new ModeRequest(Guid.NewGuid().ToString("N"), parse.GetValue(target)!, parse.GetValue(reason)!, parse.GetValue(force), Environment.UserName);
            ModeControlFolder.WriteRequest(folder, request);
            string reply = ModeControlFolder.ReplyPath(folder, request.Id);
            for (int i = 0; i < 20 && !File.Exists(reply); i++) await Task.Delay(250, ct);
            if (!File.Exists(reply))
            {
                File.Delete(ModeControlFolder.RequestPath(folder, request.Id));
                return CliErrors.Fail($"no running station picked up the request within 5 s (control folder {folder}); start `edgeinspect run`", ExitCodes.Unreachable);
            }
            var r = JsonSerializer.Deserialize<ModeReply>(File.ReadAllText(reply))!;
            File.Delete(reply);
            Console.WriteLine(r.Changed ? $"mode {r.From} -> {r.To}: {r.Reason}" : $"refused ({r.From} -> {r.To}): {r.Reason}");
            return r.Changed ? ExitCodes.Ok : ExitCodes.Problems;
        }));
        mode.Subcommands.Add(show);
        mode.Subcommands.Add(set);
        return mode;
    }

    private static Command ShadowReport()
    {
        var json = CliOptions.Json();
        var cmd = new Command("shadow-report", "Model-versus-human statistics from the local store") { json, ProfileOption.Create(), StoreLocation.DbOption() };
        cmd.SetAction(parse => CliErrors.Guard(() =>
        {
            using var snapshot = LiteDbInspectionStore.OpenSnapshot(StoreLocation.Resolve(parse));
            var stats = new ShadowStatistics();
            stats.AddRange(snapshot.Store.Records());
            var report = stats.Report();
            Console.WriteLine(parse.GetValue(json) ? ShadowReportFormat.Json(report) : ShadowReportFormat.Table(report));
            return ExitCodes.Ok;
        }));
        return cmd;
    }

    private static Command Simulate()
    {
        var outDir = new Option<string>("--out") { Description = "output folder (images/, annotations/, train.txt, val.txt)", Required = true };
        var count = new Option<int>("--count") { Description = "number of parts to render", DefaultValueFactory = _ => 1000 }.InRange(1);
        var seed = new Option<int>("--seed") { Description = "line seed: the same seed renders the same parts", DefaultValueFactory = _ => 1 };
        var defectRate = new Option<double>("--defect-rate") { Description = "fraction of parts with at least one defect (0..1)", DefaultValueFactory = _ => 0.5 }
            .Check(v => v is >= 0 and <= 1 ? null : "must be 0..1");
        var width = new Option<int>("--width") { Description = "frame width in pixels", DefaultValueFactory = _ => 320 }.InRange(160, 4096);
        var height = new Option<int>("--height") { Description = "frame height in pixels", DefaultValueFactory = _ => 240 }.InRange(120, 4096);
        var cmd = new Command("simulate", "Render virtual-line parts with ground truth as a Pascal VOC data set (for training and tests)")
        {
            outDir, count, seed, defectRate, width, height,
        };
        cmd.SetAction(parse => CliErrors.Guard(() =>
        {
            var renderer = new PartRenderer(new PartRendererOptions
            {
                Seed = parse.GetValue(seed),
                DefectRate = parse.GetValue(defectRate),
                Width = parse.GetValue(width),
                Height = parse.GetValue(height),
            });
            string dir = parse.GetValue(outDir)!;
            DatasetSummary summary;
            try { summary = VirtualLineDataset.Write(renderer, dir, parse.GetValue(count), ImageFiles.Write); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new CliException($"{dir}: {e.Message}"); }
            Console.WriteLine($"wrote {summary.Count} parts to {dir} (train {summary.Train}, val {summary.Val})");
            Console.WriteLine("parts:   " + string.Join(", ", summary.PartsPerClass.Select(kv => $"{kv.Key} {kv.Value}")));
            Console.WriteLine("objects: " + string.Join(", ", summary.ObjectsPerClass.Select(kv => $"{kv.Key} {kv.Value}")));
            return ExitCodes.Ok;
        }));
        return cmd;
    }
}
