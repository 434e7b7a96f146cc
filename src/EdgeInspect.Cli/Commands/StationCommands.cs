using System.CommandLine;
using System.Text.Json;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Core.Shadow;
using EdgeInspect.Core.Storage;
using EdgeInspect.Imaging.OpenCv.Capture;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Configuration;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Station.VirtualLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Cli.Commands;

/// <summary>Verbs: run, mode, shadow-report, simulate, bench pipeline (issue 4).</summary>
internal static class StationCommands
{
    public static IEnumerable<Command> Create() => [Run(), Mode(), ShadowReport(), Simulate()];

    /// <summary>
    /// Opens the profile's local store. LEAD: wire the LiteDB store here once it lands
    /// (new LiteDbInspectionStore(new StoreOptions { Path = profile.Store.Path }, time)); until then the
    /// station keeps its records in memory for the run.
    /// </summary>
    internal static Func<StationProfile, TimeProvider, IInspectionStore> OpenStore { get; set; } = (_, _) => new InMemoryInspectionStore();

    /// <summary>
    /// Opens the model. LEAD: wire PackageInspector on profile.Model.Package once it lands; the stand-in reads
    /// the virtual line's ground truth (documented in SimulatedModelInspector).
    /// </summary>
    internal static Func<StationProfile, IInspector> OpenInspector { get; set; } = _ => new SimulatedModelInspector();

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
        catch (ConfigValueException e) { rc = Fail($"{e.Key}: {e.Reason}"); return null; }
    }

    private static string ControlFolder(StationProfile profile) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(profile.Store.Path)) ?? ".", "control");

    private static Command Run()
    {
        var cmd = new Command("run", "Run the station worker service (the default verb)") { ProfileOption };
        cmd.SetAction(async (parse, ct) =>
        {
            var profile = LoadProfile(parse, out int rc);
            if (profile is null) return rc;
            var time = TimeProvider.System;
            var builder = Host.CreateApplicationBuilder();
            builder.Services.AddSystemd();
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            var store = OpenStore(profile, time);
            var state = store.LoadState();
            if (state.LastSequence == 0 && !store.AuditEvents().Any())
            {
                // First start of this store: the profile's initial mode, audited like any other change.
                state.Mode = profile.InitialMode;
                store.SaveState(state);
                store.AppendAudit(new AuditEvent(time.GetUtcNow(), "mode-init", "service", "profile", null, profile.InitialMode.ToWire(), "first start"));
            }
            var modes = new ModeController(store, new AutomationGate(profile.Gate), time);
            // Simulated driver in dev (no board); the real one opens the board's gpiochip through libgpiod.
            var gpio = profile.Gpio.Driver == "real"
                ? new System.Device.Gpio.GpioController()
                : new System.Device.Gpio.GpioController(new EdgeInspect.Gpio.SimulatedGpioDriver());
            using var outputs = new EdgeInspect.Station.Io.GpioStationOutputs(gpio, profile.Gpio.RejectOutput, profile.Gpio.StatusLight, TimeSpan.FromMilliseconds(50), time);
            var renderer = new PartRenderer(new PartRendererOptions { Seed = profile.Source.Seed, DefectRate = profile.Source.DefectRate, Width = profile.Source.Width, Height = profile.Source.Height });
            IFrameSource source = profile.Source.Kind switch
            {
                "virtual-line" => new VirtualLineSource(renderer, TimeSpan.FromMilliseconds(profile.Source.IntervalMs), time),
                _ => throw new NotSupportedException($"Source:Kind {profile.Source.Kind} is not wired in this build"),
            };
            var human = new SimulatedHumanInspector(new HumanInspectorOptions { Accuracy = profile.HumanInspector.Accuracy, MeanDelay = TimeSpan.FromMilliseconds(profile.HumanInspector.MeanDelayMs), Seed = profile.HumanInspector.Seed });
            var engine = new StationEngine(new StationOptions { DeviceId = profile.Device.Id, Station = profile.Device.Station, PartialConfidence = profile.Automation.PartialConfidence },
                new InspectorHost(OpenInspector(profile)), modes, store, outputs, human, time);

            builder.Services.AddSingleton(time);
            builder.Services.AddSingleton(store);
            builder.Services.AddSingleton(modes);
            builder.Services.AddSingleton(engine);
            builder.Services.AddSingleton(source);
            builder.Services.AddSingleton(new FrameChannel(capacity: 4));
            // Registered first so it stops last and its summary counts every drained part.
            builder.Services.AddHostedService(sp => new ProgressReporter(engine, modes, time, Console.Out));
            builder.Services.AddHostedService(sp => new ModeControlFolder(ControlFolder(profile), modes, time, sp.GetRequiredService<ILogger<ModeControlFolder>>()));
            builder.Services.AddHostedService<InspectionStage>();
            builder.Services.AddHostedService<CaptureStage>();
            using var host = builder.Build();
            Console.WriteLine($"station {profile.Device.Id}/{profile.Device.Station}: source {source.Name}, mode {modes.Current.ToWire()}, Ctrl-C to stop");
            await host.RunAsync(ct);
            store.Dispose();
            return 0;
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
            using var store = OpenStore(profile, TimeProvider.System);
            Console.WriteLine(store.LoadState().Mode.ToWire());
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
            string folder = ControlFolder(profile);
            var request = new ModeRequest(Guid.NewGuid().ToString("N"), wanted, parse.GetValue(reason)!, parse.GetValue(force), Environment.UserName);
            ModeControlFolder.WriteRequest(folder, request);
            string reply = ModeControlFolder.ReplyPath(folder, request.Id);
            for (int i = 0; i < 20 && !File.Exists(reply); i++) await Task.Delay(250, ct);
            if (!File.Exists(reply))
            {
                File.Delete(ModeControlFolder.RequestPath(folder, request.Id));
                return Fail($"no running station picked up the request within 5 s (control folder {folder}); start `edgeinspect run`");
            }
            var r = JsonSerializer.Deserialize<ModeReply>(File.ReadAllText(reply))!;
            File.Delete(reply);
            Console.WriteLine(r.Changed ? $"mode {r.From} -> {r.To}: {r.Reason}" : $"refused ({r.From} -> {r.To}): {r.Reason}");
            return r.Changed ? 0 : 3;
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
            using var store = OpenStore(profile, TimeProvider.System);
            var stats = new ShadowStatistics();
            stats.AddRange(store.Records());
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

    private static int Fail(string message)
    {
        Console.Error.WriteLine("error: " + message);
        return 2;
    }
}
