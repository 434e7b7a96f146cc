using System.Text.Json;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;

namespace EdgeInspect.Station.Configuration;

/// <summary>A device-config profile (device-config/NAME.json). Validated at start: a bad value names its key.</summary>
public sealed class StationProfile
{
    public DeviceSection Device { get; set; } = new();
    public SourceSection Source { get; set; } = new();
    public HumanSection HumanInspector { get; set; } = new();
    public AutomationSection Automation { get; set; } = new();
    public StoreSection Store { get; set; } = new();
    public ModelSection Model { get; set; } = new();
    public GpioSection Gpio { get; set; } = new();

    public sealed class DeviceSection { public string Id { get; set; } = "dev-001"; public string Station { get; set; } = "station-1"; }

    public sealed class SourceSection
    {
        /// <summary>virtual-line | folder | v4l2 | gstreamer | rtsp | file</summary>
        public string Kind { get; set; } = "virtual-line";
        public string? Uri { get; set; }
        public int Seed { get; set; } = 1;
        public int IntervalMs { get; set; } = 200;
        public double DefectRate { get; set; } = 0.3;
        public int Width { get; set; } = 320;
        public int Height { get; set; } = 240;
        /// <summary>Camera sources: one frame per part on the Gpio:PartPresent sensor's edge instead of free-running.</summary>
        public bool Triggered { get; set; }
    }

    public sealed class HumanSection
    {
        /// <summary>Simulated inspector (virtual line): probability of the right verdict.</summary>
        public double Accuracy { get; set; } = 0.97;
        public int MeanDelayMs { get; set; } = 800;
        public int Seed { get; set; } = 11;
        /// <summary>Real buttons: how long a part waits for the inspector's OK / defect press before it fails safe.</summary>
        public int WindowMs { get; set; } = 10_000;
    }

    public sealed class AutomationSection
    {
        public string InitialMode { get; set; } = "shadow";
        public float PartialConfidence { get; set; } = 0.9f;
        public int GateMinPairedParts { get; set; } = 200;
        public double GateMinAgreementLowerBound { get; set; } = 0.95;
    }

    public sealed class StoreSection { public string Path { get; set; } = "data/edgeinspect.db"; }

    public sealed class ModelSection
    {
        /// <summary>Model package folder; relative paths resolve against the working folder, then the repository root.</summary>
        public string Package { get; set; } = "models/virtual-line";
        /// <summary>Execution providers in preference order (tensorrt, cuda, cpu); a missing one falls back with a warning.</summary>
        public string[] Providers { get; set; } = ["cpu"];
        /// <summary>ONNX Runtime intra-op threads; 0 = one per core.</summary>
        public int IntraOpThreads { get; set; }
        /// <summary>Copies of each cascade network run side by side (1 = one copy; 0 = one per core, at most 4, on the CPU, 1 on a GPU).</summary>
        public int Lanes { get; set; } = 1;
    }

    public sealed class GpioSection
    {
        /// <summary>simulated | real</summary>
        public string Driver { get; set; } = "simulated";
        public int ButtonOk { get; set; } = 17;
        public int ButtonDefect { get; set; } = 27;
        public int PartPresent { get; set; } = 22;
        public int ModeKeyA { get; set; } = 5;
        public int ModeKeyB { get; set; } = 6;
        public int ModeKeyC { get; set; } = 13;
        public int RejectOutput { get; set; } = 23;
        public int StatusLight { get; set; } = 24;
        public int DebounceMs { get; set; } = 30;
    }

    private static readonly string[] SourceKinds = ["virtual-line", "folder", "v4l2", "gstreamer", "rtsp", "file"];

    /// <summary>Throws <see cref="ConfigValueException"/> naming the first bad key.</summary>
    public void Validate()
    {
        static void Need(bool ok, string key, string reason) { if (!ok) throw new ConfigValueException(key, reason); }
        Need(!string.IsNullOrWhiteSpace(Device.Id) && Device.Id.IndexOfAny(['+', '#', '/']) < 0, "Device:Id", "must be non-empty with no '+', '#' or '/' (it goes into MQTT topics)");
        Need(!string.IsNullOrWhiteSpace(Device.Station), "Device:Station", "must be non-empty");
        Need(SourceKinds.Contains(Source.Kind), "Source:Kind", $"must be one of {string.Join(", ", SourceKinds)}");
        Need(Source.Kind == "virtual-line" || !string.IsNullOrWhiteSpace(Source.Uri), "Source:Uri", $"required for source kind '{Source.Kind}'");
        Need(!Source.Triggered || Source.Kind is "v4l2" or "gstreamer" or "rtsp" or "file", "Source:Triggered", "only camera sources (v4l2, gstreamer, rtsp, file) take a part-present trigger");
        Need(Source.IntervalMs is >= 0 and <= 60_000, "Source:IntervalMs", "must be 0..60000");
        Need(Source.DefectRate is >= 0 and <= 1, "Source:DefectRate", "must be 0..1");
        Need(Source.Width is >= 160 and <= 4096, "Source:Width", "must be 160..4096");
        Need(Source.Height is >= 120 and <= 4096, "Source:Height", "must be 120..4096");
        Need(HumanInspector.Accuracy is >= 0 and <= 1, "HumanInspector:Accuracy", "must be 0..1");
        Need(HumanInspector.MeanDelayMs >= 0, "HumanInspector:MeanDelayMs", "must be >= 0");
        Need(AutomationModes.TryParse(Automation.InitialMode, out _), "Automation:InitialMode", "must be human, shadow, assist, partial or full");
        Need(Automation.PartialConfidence is > 0 and <= 1, "Automation:PartialConfidence", "must be in (0, 1]");
        Gate.Validate("Automation");
        Need(!string.IsNullOrWhiteSpace(Store.Path), "Store:Path", "must be non-empty");
        Need(!string.IsNullOrWhiteSpace(Model.Package), "Model:Package", "must name a model package folder");
        if (EdgeInspect.Core.Inference.ExecutionProviders.Problem(Model.Providers) is { } providers) throw new ConfigValueException("Model:Providers", providers);
        Need(Model.IntraOpThreads is >= 0 and <= 64, "Model:IntraOpThreads", "must be 0..64");
        Need(Model.Lanes is >= 0 and <= 16, "Model:Lanes", "must be 0..16 (0 = automatic)");
        Need(HumanInspector.WindowMs is >= 0 and <= 600_000, "HumanInspector:WindowMs", "must be 0..600000");
        Need(Gpio.Driver is "simulated" or "real", "Gpio:Driver", "must be simulated or real");
        var pins = new (string Key, int Pin)[]
        {
            ("Gpio:ButtonOk", Gpio.ButtonOk), ("Gpio:ButtonDefect", Gpio.ButtonDefect), ("Gpio:PartPresent", Gpio.PartPresent),
            ("Gpio:ModeKeyA", Gpio.ModeKeyA), ("Gpio:ModeKeyB", Gpio.ModeKeyB), ("Gpio:ModeKeyC", Gpio.ModeKeyC),
            ("Gpio:RejectOutput", Gpio.RejectOutput), ("Gpio:StatusLight", Gpio.StatusLight),
        };
        var seen = new Dictionary<int, string>();
        foreach (var (key, pin) in pins)
        {
            Need(pin is >= 0 and <= 511, key, "pin number must be 0..511");
            Need(seen.TryAdd(pin, key), key, $"pin {pin} is already used by {seen.GetValueOrDefault(pin)}");
        }
        Need(Gpio.DebounceMs is >= 0 and <= 1000, "Gpio:DebounceMs", "must be 0..1000");
    }

    public GateOptions Gate => new() { MinPairedParts = Automation.GateMinPairedParts, MinAgreementLowerBound = Automation.GateMinAgreementLowerBound };

    public AutomationMode InitialMode => AutomationModes.TryParse(Automation.InitialMode, out var m) ? m : AutomationMode.Shadow;

    private static readonly JsonSerializerOptions Json = new() { PropertyNameCaseInsensitive = true, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>The file a profile name or path refers to (device-config/NAME.json under <paramref name="configRoot"/>, or the path).</summary>
    public static string ResolvePath(string nameOrPath, string configRoot) =>
        File.Exists(nameOrPath) ? nameOrPath : Path.Combine(configRoot, nameOrPath + ".json");

    /// <summary>Loads a profile by name (device-config/NAME.json under <paramref name="configRoot"/>) or by path, then validates it.</summary>
    public static StationProfile Load(string nameOrPath, string configRoot)
    {
        string path = ResolvePath(nameOrPath, configRoot);
        if (!File.Exists(path)) throw new ConfigValueException("--profile", $"no profile '{nameOrPath}' (looked for {path})");
        StationProfile? profile;
        try { profile = JsonSerializer.Deserialize<StationProfile>(File.ReadAllText(path), Json); }
        catch (JsonException e) { throw new ConfigValueException(path, $"invalid JSON at {e.Path}: {e.Message.Split('.')[0]}"); }
        if (profile is null) throw new ConfigValueException(path, "empty profile");
        try { profile.Validate(); }
        catch (ConfigValueException e) { throw new ConfigValueException($"{Path.GetFileName(path)}: {e.Key}", e.Reason); }
        return profile;
    }
}
