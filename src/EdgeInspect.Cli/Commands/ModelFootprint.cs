using System.Globalization;
using System.Text;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Inference;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Imaging.OpenCv;
using EdgeInspect.Inference.Onnx;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Configuration;
using EdgeInspect.Station.Fleet.Slots;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Station.VirtualLine;
using EdgeInspect.Storage.LiteDb;

namespace EdgeInspect.Cli.Commands;

/// <summary>
/// The model part of `bench footprint`: resident memory with an ONNX package loaded as the station loads it (the
/// profile's default inference options, one image-operations set per inspector), after warm-up parts in shadow mode;
/// first the active model alone, then with a candidate (inspected on every part too, as the record stage does) and a
/// previous model (loaded and idle, kept for a one-swap rollback).
/// </summary>
internal sealed record ModelFootprint(
    string Package,
    int Parts,
    int NetworksPerModel,
    long RssBeforeBytes,
    long RssOneLoadedBytes,
    long RssOneWarmBytes,
    long RssThreeWarmBytes,
    long ManagedCommittedOneBytes,
    long ManagedCommittedThreeBytes)
{
    private const long MiB = 1024 * 1024;

    /// <summary>What each model beyond the first adds, on average.</summary>
    public long ExtraPerModelBytes => (RssThreeWarmBytes - RssOneWarmBytes) / 2;

    /// <summary>Loads <paramref name="packageDir"/> into a station engine over <paramref name="store"/> and measures.</summary>
    public static ModelFootprint Measure(string packageDir, LiteDbInspectionStore store, int parts, int group)
    {
        var time = TimeProvider.System;
        var state = store.LoadState();
        state.Mode = AutomationMode.Shadow; // the model runs on every part and actuates nothing
        store.SaveState(state);
        var factory = new CountingFactory(new OnnxNetworkFactory());
        var loader = new PackageInspectorLoader(factory, new ModelOptions().Inference, () => new OpenCvImageOps());
        var renderer = new PartRenderer(new PartRendererOptions { Seed = 1, DefectRate = 0.3 });

        long before = SettledRss();
        using var host = new InspectorHost(loader.Load(packageDir));
        int perModel = factory.Opened;
        long loaded = SettledRss();
        var modes = new ModeController(store, new AutomationGate(new GateOptions()), time, host);
        var engine = new StationEngine(new StationOptions(), host, modes, store, new SimulatedStationOutputs(), null, time);
        RunParts(engine, renderer, null, 0, parts, group, time);
        long one = SettledRss();
        long managedOne = GC.GetGCMemoryInfo().TotalCommittedBytes;

        using var candidate = loader.Load(packageDir);
        using var previous = loader.Load(packageDir);
        RunParts(engine, renderer, candidate, parts, parts, group, time);
        long three = SettledRss();
        long managedThree = GC.GetGCMemoryInfo().TotalCommittedBytes;
        return new ModelFootprint(packageDir, parts, perModel, before, loaded, one, three, managedOne, managedThree);
    }

    /// <summary>A human-readable summary.</summary>
    public string Table()
    {
        var ci = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(ci, $"model {Package}: {NetworksPerModel} ONNX Runtime sessions per model, {Parts} warm-up parts per phase (shadow mode, 320x240 virtual line)");
        sb.AppendLine(ci, $"  RSS before loading            {RssBeforeBytes / (double)MiB,8:0.0} MiB");
        sb.AppendLine(ci, $"  one model, loaded             {RssOneLoadedBytes / (double)MiB,8:0.0} MiB");
        sb.AppendLine(ci, $"  one model, after warm-up      {RssOneWarmBytes / (double)MiB,8:0.0} MiB (managed heap committed {ManagedCommittedOneBytes / (double)MiB:0.0} MiB; target < 300 MiB)");
        sb.AppendLine(ci, $"  three loaded, after warm-up   {RssThreeWarmBytes / (double)MiB,8:0.0} MiB (managed heap committed {ManagedCommittedThreeBytes / (double)MiB:0.0} MiB)");
        sb.Append(ci, $"  each extra model              {ExtraPerModelBytes / (double)MiB,8:0.0} MiB (target < 50 MiB)");
        return sb.ToString();
    }

    /// <summary>Parts through the engine (the active model), and through <paramref name="candidate"/> too when given.</summary>
    private static void RunParts(StationEngine engine, PartRenderer renderer, IInspector? candidate, int first, int count, int group, TimeProvider time)
    {
        var pending = new List<DecidedPart>(group);
        for (int i = first; i < first + count; i++)
        {
            var image = new ImageBuffer(renderer.Options.Width, renderer.Options.Height);
            var truth = renderer.Render(i, image);
            var frame = new Frame(image, i, time.GetUtcNow(), truth.PartId) { GroundTruth = truth };
            pending.Add(engine.Decide(frame));
            candidate?.Inspect(frame);
            if (pending.Count < group && i < first + count - 1) continue;
            engine.Commit(pending);
            foreach (var p in pending) p.Frame.Dispose();
            pending.Clear();
        }
    }

    /// <summary>Resident set after a full collection, so garbage does not count.</summary>
    private static long SettledRss()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        self.Refresh();
        return self.WorkingSet64;
    }

    /// <summary>Counts the networks (ONNX Runtime sessions) a load opens.</summary>
    private sealed class CountingFactory(INetworkFactory inner) : INetworkFactory
    {
        public int Opened { get; private set; }

        public INetworkRunner Open(string modelPath, InferenceOptions options)
        {
            var runner = inner.Open(modelPath, options);
            Opened++;
            return runner;
        }
    }
}
