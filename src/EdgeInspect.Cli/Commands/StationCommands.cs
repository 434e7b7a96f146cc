using System.CommandLine;
using System.Text.Json;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Core.Shadow;
using EdgeInspect.Core.Storage;
using EdgeInspect.Cli.Fleet;
using EdgeInspect.Core.Inference;
using EdgeInspect.Core.Telemetry;
using EdgeInspect.Sync.Mqtt.Telemetry;
using EdgeInspect.Core.Packages;
using EdgeInspect.Imaging.OpenCv;
using EdgeInspect.Imaging.OpenCv.Capture;
using EdgeInspect.Inference.Onnx;
using EdgeInspect.Station.Io;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.Sync.Mqtt;
using Microsoft.Extensions.Configuration;
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
    /// Opens the model the profile names: the package through ONNX Runtime (PackageInspector), with the profile's
    /// execution providers. Tests replace it to run the station with a known-accuracy stand-in.
    /// </summary>
    internal static Func<StationProfile, ILoggerFactory, IInspector> OpenInspector { get; set; } = (profile, logs) =>
        PackageInspector.Open(
            ModelPackage.Open(ResolvePackage(profile.Model.Package)),
            new OnnxNetworkFactory(logs.CreateLogger<OnnxNetworkFactory>()),
            new InferenceOptions { Providers = profile.Model.Providers, IntraOpThreads = profile.Model.IntraOpThreads, Lanes = profile.Model.Lanes },
            new OpenCvImageOps(), ownsImageOps: true);

    /// <summary>A relative package path resolves against the working folder, then the repository root (beside device-config/).</summary>
    internal static string ResolvePackage(string package)
    {
        if (Path.IsPathRooted(package) || Directory.Exists(package)) return package;
        string besideConfig = Path.Combine(Path.GetDirectoryName(ConfigRoot()) ?? ".", package);
        return Directory.Exists(besideConfig) ? besideConfig : package;
    }

    /// <summary>
    /// The store for verbs that only read (mode show, shadow-report): a snapshot copy, so they work while the
    /// service holds the live file.
    /// </summary>
    private static SnapshotStore? OpenReadOnlyStore(StationProfile profile, out int rc)
    {
        rc = 0;
        if (!File.Exists(profile.Store.Path))
        {
            rc = Fail($"Store:Path: no store at {Path.GetFullPath(profile.Store.Path)} yet (run `edgeinspect run` first)");
            return null;
        }
        return LiteDbInspectionStore.OpenSnapshot(profile.Store.Path);
    }

    private static readonly Option<string> ProfileOption = new("--profile") { Description = "device-config profile name (device-config/NAME.json) or path", DefaultValueFactory = _ => "dev" };

    private static string ConfigRoot() => EdgeInspect.Cli.CommandLine.ProfileOption.ConfigRoot();

    private static StationProfile? LoadProfile(ParseResult parse, out int rc) => LoadProfile(parse, out rc, out _);

    private static StationProfile? LoadProfile(ParseResult parse, out int rc, out string path)
    {
        rc = 0;
        path = StationProfile.ResolvePath(parse.GetValue(ProfileOption)!, ConfigRoot());
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
            var profile = LoadProfile(parse, out int rc, out string profilePath);
            if (profile is null) return rc;
            var time = TimeProvider.System;
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = [], ContentRootPath = Environment.CurrentDirectory });
            // One file configures the station: the profile is also the configuration the store, uplink and
            // telemetry sections bind from. The device id is the profile's, so records and topics agree.
            builder.Configuration.AddJsonFile(Path.GetFullPath(profilePath), optional: false, reloadOnChange: false);
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Uplink:DeviceId"] = profile.Device.Id });
            builder.Services.AddSystemd();
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            builder.Services.AddSingleton(time);
            var inspectors = new InspectorHost();
            try
            {
                builder.Services.AddEdgeInspectStorage(builder.Configuration);
                builder.Services.AddEdgeInspectUplink(builder.Configuration, FleetAgentServiceCollectionExtensions.DeviceStatus);
                builder.Services.AddEdgeInspectTelemetry(builder.Configuration);
                // Fleet control (commands, model delivery, candidate shadow, promote / rollback) when the profile has a
                // Fleet section; registered before the stages so the agent restores its slots before frames flow.
                builder.Services.AddEdgeInspectFleetAgent(builder.Configuration, sp => sp.GetRequiredService<IInspectionStore>(),
                    new InferenceOptions { Providers = profile.Model.Providers, IntraOpThreads = profile.Model.IntraOpThreads, Lanes = profile.Model.Lanes });
            }
            catch (InvalidOperationException e) { return Fail(e.Message); }

            using var logs = LoggerFactory.Create(b => b.AddSimpleConsole().SetMinimumLevel(LogLevel.Warning));
            try { inspectors.Swap(OpenInspector(profile, logs)); }
            catch (Exception e) when (e is ModelPackageException or IOException or InvalidOperationException or UnauthorizedAccessException)
            {
                return Fail($"Model:Package: {profile.Model.Package}: {e.Message}");
            }

            // Simulated driver in dev (no board); the real one opens the board's gpiochip through libgpiod.
            using var gpio = profile.Gpio.Driver == "real"
                ? new System.Device.Gpio.GpioController()
                : new System.Device.Gpio.GpioController(new EdgeInspect.Gpio.SimulatedGpioDriver());
            var debounce = TimeSpan.FromMilliseconds(profile.Gpio.DebounceMs);
            using var outputs = new GpioStationOutputs(gpio, profile.Gpio.RejectOutput, profile.Gpio.StatusLight, TimeSpan.FromMilliseconds(50), time);
            IFrameSource source;
            IHumanVerdictSource human;
            GpioInspectorButtons? buttons = null;
            try
            {
                source = OpenSource(profile, time, logs);
                if (profile.Source.Triggered) source = new PartPresentTrigger(source, gpio, profile.Gpio.PartPresent, debounce, time);
                if (profile.Source.Kind == "virtual-line")
                {
                    human = new SimulatedHumanInspector(new HumanInspectorOptions { Accuracy = profile.HumanInspector.Accuracy, MeanDelay = TimeSpan.FromMilliseconds(profile.HumanInspector.MeanDelayMs), Seed = profile.HumanInspector.Seed });
                }
                else human = buttons = new GpioInspectorButtons(gpio, profile.Gpio.ButtonOk, profile.Gpio.ButtonDefect, debounce, time);
            }
            catch (Exception e) when (e is IOException or DirectoryNotFoundException)
            {
                return Fail($"Source:Uri: {e.Message}");
            }
            using var sourceLease = source;
            using var buttonsLease = buttons;

            builder.Services.AddSingleton(sp =>
            {
                var store = sp.GetRequiredService<IInspectionStore>();
                var state = store.LoadState();
                if (state.LastSequence == 0 && !store.AuditEvents().Any())
                {
                    // First start of this store: the profile's initial mode, audited like any other change.
                    state.Mode = profile.InitialMode;
                    store.SaveState(state);
                    store.AppendAudit(new AuditEvent(time.GetUtcNow(), "mode-init", "service", "profile", null, profile.InitialMode.ToWire(), "first start"));
                }
                return new ModeController(store, new AutomationGate(profile.Gate), time);
            });
            builder.Services.AddSingleton(sp =>
            {
                var telemetry = sp.GetRequiredService<ITelemetryRecorder>();
                if (inspectors.Current is PackageInspector pi) telemetry.SetBaseline(pi.Manifest.InputBaseline);
                return new StationEngine(
                    new StationOptions { DeviceId = profile.Device.Id, Station = profile.Device.Station, PartialConfidence = profile.Automation.PartialConfidence, HumanWindow = TimeSpan.FromMilliseconds(profile.HumanInspector.WindowMs) },
                    inspectors, sp.GetRequiredService<ModeController>(), sp.GetRequiredService<IInspectionStore>(), outputs, human, time)
                { Telemetry = telemetry };
            });
            builder.Services.AddSingleton<IInspectorHost>(inspectors);
            builder.Services.AddSingleton(source);
            builder.Services.AddSingleton(new FrameChannel(capacity: 4));
            builder.Services.AddSingleton(new RecordChannel(capacity: 8));
            // Registered first so it stops last and its summary counts every drained part.
            builder.Services.AddHostedService(sp => new ProgressReporter(sp.GetRequiredService<StationEngine>(), sp.GetRequiredService<ModeController>(), time, Console.Out));
            builder.Services.AddHostedService(sp => new ModeControlFolder(ControlFolder(profile), sp.GetRequiredService<ModeController>(), time, sp.GetRequiredService<ILogger<ModeControlFolder>>()));
            // Stopped in reverse order: capture first, then inspection drains its channel, then the record stage
            // drains the decided parts (each stage reads until the one before completes its channel).
            builder.Services.AddHostedService<RecordStage>();
            builder.Services.AddHostedService<InspectionStage>();
            builder.Services.AddHostedService<CaptureStage>();
            using var host = builder.Build();

            ModeController modes;
            try { modes = host.Services.GetRequiredService<ModeController>(); } // opens the store now: a bad file is moved aside here
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return Fail($"Store:Path: {e.Message}"); }
            using var keySwitch = new ModeKeySwitch(gpio, profile.Gpio.ModeKeyA, profile.Gpio.ModeKeyB, profile.Gpio.ModeKeyC, debounce, modes, time);
            var uplink = host.Services.GetService<MqttUplinkOptions>();
            Console.WriteLine($"station {profile.Device.Id}/{profile.Device.Station}: source {source.Name}, model {inspectors.Current?.ModelName} {inspectors.Current?.ModelVersion}, " +
                $"mode {modes.Current.ToWire()}, store {Path.GetFullPath(profile.Store.Path)}, uplink {(uplink is { Enabled: true } ? $"{uplink.Host}:{uplink.Port}" : "off (records buffer locally)")}; Ctrl-C to stop");
            await host.RunAsync(ct);
            inspectors.Swap(null)?.Dispose();
            return 0;
        });
        return cmd;
    }

    /// <summary>The profile's camera: the virtual line, an image folder replayed, or an OpenCV capture.</summary>
    private static IFrameSource OpenSource(StationProfile profile, TimeProvider time, ILoggerFactory logs)
    {
        var src = profile.Source;
        var interval = TimeSpan.FromMilliseconds(src.IntervalMs);
        var log = logs.CreateLogger("EdgeInspect.Capture");
        return src.Kind switch
        {
            "virtual-line" => new VirtualLineSource(new PartRenderer(new PartRendererOptions { Seed = src.Seed, DefectRate = src.DefectRate, Width = src.Width, Height = src.Height }), interval, time),
            "folder" => new FolderReplaySource(src.Uri!, interval, null, time),
            "v4l2" => VideoCaptureSource.Create(CaptureKind.V4l2, src.Uri!, time, log),
            "gstreamer" => VideoCaptureSource.Create(CaptureKind.GStreamer, src.Uri!, time, log),
            "rtsp" => VideoCaptureSource.Create(CaptureKind.Rtsp, src.Uri!, time, log),
            "file" => VideoCaptureSource.Create(CaptureKind.File, src.Uri!, time, log),
            _ => throw new InvalidOperationException($"Source:Kind {src.Kind}"), // Validate() refuses other kinds first
        };
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

    private static int Fail(string message)
    {
        Console.Error.WriteLine("error: " + message);
        return 2;
    }
}
