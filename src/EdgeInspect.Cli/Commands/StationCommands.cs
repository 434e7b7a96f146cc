using System.CommandLine;
using System.Text.Json;
using EdgeInspect.Cli.CommandLine;
using EdgeInspect.Cli.Hosting;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Shadow;
using EdgeInspect.Imaging.OpenCv.Capture;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Configuration;
using EdgeInspect.Station.VirtualLine;
using EdgeInspect.Storage.LiteDb;
using Microsoft.Extensions.Hosting;

namespace EdgeInspect.Cli.Commands;

/// <summary>Verbs of the station: run, mode, shadow-report, simulate.</summary>
internal static class StationCommands
{
    public static IEnumerable<Command> Create() => [Run(), Mode(), ShadowReport(), Simulate()];

    /// <summary>A relative package path resolves against the working folder, then the repository root (beside device-config/).</summary>
    internal static string ResolvePackage(string package) => StationParts.ResolvePackage(package, Path.GetDirectoryName(ConfigRoot()));

    /// <summary>
    /// The store for verbs that only read (mode show, shadow-report): a snapshot copy, so they work while the
    /// service holds the live file.
    /// </summary>
    private static SnapshotStore? OpenReadOnlyStore(StationProfile profile, out int rc)
    {
        rc = 0;
        string path = StorePath(profile);
        if (!File.Exists(path))
        {
            rc = Fail($"Store:Path: no store at {Path.GetFullPath(path)} yet (run `edgeinspect run` first)");
            return null;
        }
        return LiteDbInspectionStore.OpenSnapshot(path);
    }

    private static string StorePath(StationProfile profile) => profile.Section<StoreOptions>(StoreOptions.SectionName).Path;

    private static readonly Option<string> ProfileOption = new("--profile") { Description = "device-config profile name (device-config/NAME.json) or path", DefaultValueFactory = _ => "dev" };

    private static string ConfigRoot()
    {
        // From a clone: walk up from the working folder to the repository's device-config/; installed: beside the binary.
        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "device-config");
            if (Directory.Exists(candidate)) return candidate;
        }
        return Path.Combine(AppContext.BaseDirectory, "device-config");
    }

    private static StationProfile? LoadProfile(ParseResult parse, out int rc)
    {
        rc = 0;
        try { return StationProfile.Load(parse.GetValue(ProfileOption)!, ConfigRoot()); }
        catch (ConfigValueException e) { rc = Fail(e.Message); return null; }
    }

    private static Command Run()
    {
        var cmd = new Command("run", "Run the station worker service (the default verb)") { ProfileOption };
        cmd.SetAction(async (parse, ct) =>
        {
            var profile = LoadProfile(parse, out int rc);
            if (profile is null) return rc;
            HostApplicationBuilder builder;
            try { builder = StationHost.CreateBuilder(profile, new StationHostSettings { PackageSearchRoot = Path.GetDirectoryName(ConfigRoot()) }); }
            catch (Exception e) when (StationHost.StartupFailure(e) is { } message) { return Fail(message); }
            using var host = builder.Build();
            return await StationHost.RunAsync(host, Console.Out, ct);
        });
        return cmd;
    }

    private static Command Mode()
    {
        var mode = new Command("mode", "Show or set the station's degree of automation");
        var show = new Command("show", "Print the persisted mode") { ProfileOption };
        show.SetAction(parse =>
        {
            var profile = LoadProfile(parse, out int rc);
            if (profile is null) return rc;
            using var snapshot = OpenReadOnlyStore(profile, out rc);
            if (snapshot is null) return rc;
            Console.WriteLine(snapshot.Store.LoadState().Mode.ToWire());
            return 0;
        });
        var target = new Argument<string>("MODE") { Description = "human | shadow | assist | partial | full" };
        var reason = new Option<string>("--reason") { Description = "why (audited)", Required = true };
        var force = new Option<bool>("--force") { Description = "move past the shadow-evidence gate (the reason is audited)" };
        var set = new Command("set", "Change the mode (through the running service when there is one)") { target, reason, force, ProfileOption };
        set.SetAction(async (parse, ct) =>
        {
            var profile = LoadProfile(parse, out int rc);
            if (profile is null) return rc;
            string wanted = parse.GetValue(target)!;
            if (!AutomationModes.TryParse(wanted, out _)) return Fail($"MODE: unknown mode '{wanted}' (human, shadow, assist, partial, full)");
            string folder = StationParts.ControlFolder(StorePath(profile));
            var request = new ModeRequest(Guid.NewGuid().ToString("N"), wanted, parse.GetValue(reason)!, parse.GetValue(force), Environment.UserName);
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
        });
        mode.Subcommands.Add(show);
        mode.Subcommands.Add(set);
        return mode;
    }

    private static Command ShadowReport()
    {
        var json = new Option<bool>("--json") { Description = "print JSON instead of a table" };
        var cmd = new Command("shadow-report", "Model-versus-human statistics from the local store") { json, ProfileOption };
        cmd.SetAction(parse =>
        {
            var profile = LoadProfile(parse, out int rc);
            if (profile is null) return rc;
            using var snapshot = OpenReadOnlyStore(profile, out rc);
            if (snapshot is null) return rc;
            var stats = new ShadowStatistics();
            stats.AddRange(snapshot.Store.Records());
            var report = stats.Report();
            Console.WriteLine(parse.GetValue(json) ? ShadowReportFormat.Json(report) : ShadowReportFormat.Table(report));
            return 0;
        });
        return cmd;
    }

    private static Command Simulate()
    {
        var outDir = new Option<string>("--out") { Description = "output folder (images/, annotations/, train.txt, val.txt)", Required = true };
        var count = new Option<int>("--count") { Description = "number of parts to render", DefaultValueFactory = _ => 1000 };
        var seed = new Option<int>("--seed") { Description = "line seed: the same seed renders the same parts", DefaultValueFactory = _ => 1 };
        var defectRate = new Option<double>("--defect-rate") { Description = "fraction of parts with at least one defect (0..1)", DefaultValueFactory = _ => 0.5 };
        var width = new Option<int>("--width") { Description = "frame width in pixels", DefaultValueFactory = _ => 320 };
        var height = new Option<int>("--height") { Description = "frame height in pixels", DefaultValueFactory = _ => 240 };
        var cmd = new Command("simulate", "Render virtual-line parts with ground truth as a Pascal VOC data set (for training and tests)")
        {
            outDir, count, seed, defectRate, width, height,
        };
        cmd.SetAction(parse =>
        {
            int n = parse.GetValue(count);
            if (n <= 0) return Fail("--count: must be positive");
            PartRenderer renderer;
            try
            {
                renderer = new PartRenderer(new PartRendererOptions
                {
                    Seed = parse.GetValue(seed),
                    DefectRate = parse.GetValue(defectRate),
                    Width = parse.GetValue(width),
                    Height = parse.GetValue(height),
                });
            }
            catch (ArgumentOutOfRangeException e)
            {
                return Fail($"--{ToOptionName(e.ParamName)}: {e.Message.Split(" (Parameter")[0].Split(Environment.NewLine)[0]}");
            }

            string dir = parse.GetValue(outDir)!;
            try
            {
                var summary = VirtualLineDataset.Write(renderer, dir, n, ImageFiles.Write);
                Console.WriteLine($"wrote {summary.Count} parts to {dir} (train {summary.Train}, val {summary.Val})");
                Console.WriteLine("parts:   " + string.Join(", ", summary.PartsPerClass.Select(kv => $"{kv.Key} {kv.Value}")));
                Console.WriteLine("objects: " + string.Join(", ", summary.ObjectsPerClass.Select(kv => $"{kv.Key} {kv.Value}")));
                return 0;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return Fail($"{dir}: {e.Message}");
            }
        });
        return cmd;
    }

    private static string ToOptionName(string? param) => param switch
    {
        "DefectRate" => "defect-rate",
        null => "option",
        _ => param.ToLowerInvariant(),
    };

    private static int Fail(string message) => CliErrors.Fail(message);
}
