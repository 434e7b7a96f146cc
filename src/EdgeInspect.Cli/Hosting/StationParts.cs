using System.Device.Gpio;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Evaluation;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Core.Storage;
using EdgeInspect.Core.Telemetry;
using EdgeInspect.Gpio;
using EdgeInspect.Imaging.OpenCv;
using EdgeInspect.Imaging.OpenCv.Capture;
using EdgeInspect.Inference.Onnx;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Configuration;
using EdgeInspect.Station.Fleet.Slots;
using EdgeInspect.Station.Io;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Station.Replay;
using EdgeInspect.Station.VirtualLine;
using EdgeInspect.Storage.LiteDb;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace EdgeInspect.Cli.Hosting;

/// <summary>
/// Factories for the station's parts. Each turns a failure into a <see cref="ConfigValueException"/> naming the key
/// that chose the part, so a station that cannot start says which setting to fix.
/// </summary>
internal static class StationParts
{
    /// <summary>GPIO controller (simulated or the board's), outputs, the frame source and the human verdict source.</summary>
    public static IServiceCollection AddStationIo(this IServiceCollection services)
    {
        services.AddSingleton(sp =>
        {
            var gpio = sp.GetRequiredService<IOptions<GpioOptions>>().Value;
            if (gpio.Driver != "real") return new GpioController(new SimulatedGpioDriver(gpio.SimulatedWriteFaultFile));
            try { return new GpioController(); } // the board's gpiochip through libgpiod
            catch (Exception e) when (e is not OutOfMemoryException) { throw new ConfigValueException("Gpio:Driver", $"real: {e.Message}"); }
        });
        services.AddSingleton<IStationOutputs>(sp =>
        {
            var gpio = sp.GetRequiredService<IOptions<GpioOptions>>().Value;
            return new GpioStationOutputs(sp.GetRequiredService<GpioController>(), gpio.RejectOutput, gpio.StatusLight,
                TimeSpan.FromMilliseconds(50), sp.GetRequiredService<TimeProvider>());
        });
        services.AddSingleton(OpenSource);
        services.AddSingleton<IHumanVerdictSource>(sp =>
        {
            var human = sp.GetRequiredService<IOptions<HumanVerdictOptions>>().Value;
            var source = sp.GetRequiredService<IOptions<SourceOptions>>().Value;
            human.Validate(source);
            switch (human.EffectiveKind(source))
            {
                case "simulated":
                    return new SimulatedHumanInspector(new HumanInspectorOptions
                    {
                        Accuracy = human.Accuracy,
                        MeanDelay = TimeSpan.FromMilliseconds(human.MeanDelayMs),
                        Seed = human.Seed,
                        AcceptedClasses = human.AcceptedClasses.ToHashSet(StringComparer.Ordinal),
                    });
                case "labels":
                    return new LabelledHumanInspector();
                default:
                    var gpio = sp.GetRequiredService<IOptions<GpioOptions>>().Value;
                    return new GpioInspectorButtons(sp.GetRequiredService<GpioController>(), gpio.ButtonOk, gpio.ButtonDefect, gpio.Debounce,
                        sp.GetRequiredService<TimeProvider>());
            }
        });
        return services;
    }

    /// <summary>
    /// The model: an <see cref="IInspectorLoader"/> on ONNX Runtime with the profile's providers, and the
    /// <see cref="IInspectorHost"/> holding the profile's package (the fleet agent may replace it from a slot at start).
    /// </summary>
    public static IServiceCollection AddStationModel(this IServiceCollection services)
    {
        services.AddSingleton(sp => sp.GetRequiredService<IOptions<ModelOptions>>().Value.Inference);
        services.AddSingleton<IInspectorLoader>(sp => new PackageInspectorLoader(
            new OnnxNetworkFactory(sp.GetService<ILogger<OnnxNetworkFactory>>()), sp.GetRequiredService<Core.Inference.InferenceOptions>(),
            () => new OpenCvImageOps()));
        services.AddSingleton(sp =>
        {
            var model = sp.GetRequiredService<IOptions<ModelOptions>>().Value;
            string folder = ResolvePackage(model.Package, sp.GetRequiredService<StationHostSettings>().PackageSearchRoot);
            IInspector inspector;
            try { inspector = sp.GetRequiredService<IInspectorLoader>().Load(folder); }
            catch (Exception e) when (e is Core.Packages.ModelPackageException or IOException or InvalidOperationException or UnauthorizedAccessException)
            {
                throw new ConfigValueException("Model:Package", $"{model.Package}: {e.Message}");
            }
            if (inspector is PackageInspector package) sp.GetService<ITelemetryRecorder>()?.SetBaseline(package.Manifest.InputBaseline);
            return new InspectorHost(inspector);
        });
        services.AddSingleton<IInspectorHost>(sp => sp.GetRequiredService<InspectorHost>());
        return services;
    }

    /// <summary>A relative package path resolves against the working folder, then <paramref name="searchRoot"/>.</summary>
    public static string ResolvePackage(string package, string? searchRoot)
    {
        if (Path.IsPathRooted(package) || Directory.Exists(package) || searchRoot is null) return package;
        string beside = Path.Combine(searchRoot, package);
        return Directory.Exists(beside) ? beside : package;
    }

    /// <summary>
    /// The mode controller over the opened store (a file that will not open is moved aside here, before frames flow);
    /// a store's first start takes the profile's initial mode, audited like any other change.
    /// </summary>
    public static ModeController CreateModeController(IServiceProvider sp)
    {
        var time = sp.GetRequiredService<TimeProvider>();
        var automation = sp.GetRequiredService<IOptions<AutomationOptions>>().Value;
        IInspectionStore store;
        try { store = sp.GetRequiredService<IInspectionStore>(); }
        // An unwritable path is the configuration's to fix; an I/O error (a full disk) may heal and goes up as it is.
        catch (UnauthorizedAccessException e) { throw new ConfigValueException("Store:Path", e.Message); }
        var state = store.LoadState();
        if (state.LastSequence == 0 && !store.AuditEvents().Any())
        {
            state.Mode = automation.Initial;
            store.SaveState(state);
            store.AppendAudit(new AuditEvent(time.GetUtcNow(), "mode-init", "service", "profile", null, automation.Initial.ToWire(), "first start"));
        }
        // The evidence the gate counts is the model the host holds now (the fleet agent swaps it on promote and rollback).
        return new ModeController(store, new AutomationGate(automation.Gate), time, sp.GetRequiredService<IInspectorHost>());
    }

    /// <summary>The folder `edgeinspect mode set` drops requests into: beside the store.</summary>
    public static string ControlFolder(IServiceProvider sp) => ControlFolder(sp.GetRequiredService<IOptions<StoreOptions>>().Value.Path);

    /// <summary>The control folder for a store at <paramref name="storePath"/>.</summary>
    public static string ControlFolder(string storePath) =>
        Path.Combine(Path.GetDirectoryName(Path.GetFullPath(storePath)) ?? ".", "control");

    /// <summary>
    /// A replayed folder, with its images' labels when Source:Labels names them; every image must have one, so a shadow
    /// run on recorded parts never waits on a part nobody labelled.
    /// </summary>
    private static FolderReplaySource OpenFolder(SourceOptions src, TimeSpan interval, TimeProvider time)
    {
        if (src.Labels is null) return new FolderReplaySource(src.Uri!, interval, null, time);
        string[] files = FolderReplaySource.ListImages(src.Uri!);
        IReadOnlyDictionary<string, PartLabel> labels;
        try { labels = ReplayLabels.Load(src.Labels, files); }
        catch (DatasetException e) { throw new ConfigValueException("Source:Labels", e.Message); }
        var missing = ReplayLabels.Unlabelled(labels, files);
        if (missing.Count > 0)
        {
            throw new ConfigValueException("Source:Labels",
                $"{missing.Count} of {files.Length} images in {src.Uri} have no label in {src.Labels} (first: {missing[0]})");
        }
        return new FolderReplaySource(src.Uri!, interval, null, time, labels: labels);
    }

    /// <summary>The profile's camera: the virtual line, an image folder replayed, or an OpenCV capture; behind the part-present trigger when set.</summary>
    private static IFrameSource OpenSource(IServiceProvider sp)
    {
        var src = sp.GetRequiredService<IOptions<SourceOptions>>().Value;
        var time = sp.GetRequiredService<TimeProvider>();
        var log = sp.GetRequiredService<ILoggerFactory>().CreateLogger("EdgeInspect.Capture");
        var interval = TimeSpan.FromMilliseconds(src.IntervalMs);
        IFrameSource source;
        try
        {
            source = src.Kind switch
            {
                "virtual-line" => new VirtualLineSource(new PartRenderer(new PartRendererOptions
                {
                    Seed = src.Seed, DefectRate = src.DefectRate, Width = src.Width, Height = src.Height,
                }), interval, time),
                "folder" => OpenFolder(src, interval, time),
                "v4l2" => VideoCaptureSource.Create(CaptureKind.V4l2, src.Uri!, time, log),
                "gstreamer" => VideoCaptureSource.Create(CaptureKind.GStreamer, src.Uri!, time, log),
                "rtsp" => VideoCaptureSource.Create(CaptureKind.Rtsp, src.Uri!, time, log),
                "file" => VideoCaptureSource.Create(CaptureKind.File, src.Uri!, time, log),
                _ => throw new ConfigValueException("Source:Kind", src.Kind), // validation refuses other kinds first
            };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { throw new ConfigValueException("Source:Uri", e.Message); }
        if (!src.Triggered) return source;
        var gpio = sp.GetRequiredService<IOptions<GpioOptions>>().Value;
        return new PartPresentTrigger(source, sp.GetRequiredService<GpioController>(), gpio.PartPresent, gpio.Debounce, time,
            TimeSpan.FromMilliseconds(src.MaxTriggerAgeMs));
    }
}
