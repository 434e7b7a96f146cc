using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Station.VirtualLine;
using EdgeInspect.Storage.LiteDb;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EdgeInspect.Station.Tests.Automation;

/// <summary>
/// The gate's evidence belongs to the model that earned it: parts run through the engine on a real LiteDB file, the
/// host swapped between two models, the store reopened as after a restart.
/// </summary>
public sealed class ModeControllerEvidenceTests : IDisposable
{
    private static readonly GateOptions Gate = new() { MinPairedParts = 50, MinAgreementLowerBound = 0.8 };
    private readonly string _folder = Directory.CreateTempSubdirectory("edgeinspect-evidence-").FullName;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 8, 0, 0, TimeSpan.Zero));

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    private string DbPath => Path.Combine(_folder, "station.db");

    /// <summary>The simulated model under another name and version: a second model on the same line.</summary>
    private sealed class Renamed(IInspector inner, string name, string version) : IInspector
    {
        public string ModelName => name;
        public string ModelVersion => version;
        public InspectionResult Inspect(Frame frame) => inner.Inspect(frame);
        public void Dispose() => inner.Dispose();
    }

    private void RunParts(StationEngine engine, int n, int seed)
    {
        var source = new VirtualLineSource(new PartRenderer(new PartRendererOptions { Seed = seed, Width = 160, Height = 120 }), TimeSpan.Zero, _time, n);
        while (source.ReadAsync(CancellationToken.None).AsTask().Result is { } frame)
        {
            using (frame) engine.Process(frame);
        }
    }

    [Fact]
    public void Evidence_AfterSwapToAnotherModel_ModelAEvidenceDoesNotCountForModelB()
    {
        var modelA = new Renamed(new SimulatedModelInspector(accuracy: 0.97), "defects", "1");
        var modelB = new Renamed(new SimulatedModelInspector(accuracy: 0.97), "defects", "2");
        using (var store = new LiteDbInspectionStore(new StoreOptions { Path = DbPath }, _time))
        {
            var host = new InspectorHost(modelA);
            var modes = new ModeController(store, new AutomationGate(Gate), _time, host);
            var engine = new StationEngine(new StationOptions(), host, modes, store, new SimulatedStationOutputs(),
                new SimulatedHumanInspector(new HumanInspectorOptions { Accuracy = 1 }), _time);
            RunParts(engine, 80, seed: 3);
            var (pairedA, agreedA) = modes.Evidence;
            Assert.Equal(80, pairedA);
            Assert.True(modes.TrySetMode(AutomationMode.Full, "tester", "test", "model A measured", force: false).Changed);
            Assert.True(modes.TrySetMode(AutomationMode.Shadow, "tester", "test", "back to shadow for the swap", force: false).Changed);

            host.Swap(modelB);

            Assert.Equal((0L, 0L), modes.Evidence);
            var refused = modes.TrySetMode(AutomationMode.Full, "tester", "test", "model B unmeasured", force: false);
            Assert.False(refused.Changed);
            Assert.Contains("only 0 paired parts", refused.Reason);
            RunParts(engine, 10, seed: 4);
            Assert.Equal(10, modes.Evidence.Paired);
            Assert.Equal((pairedA, agreedA), modes.EvidenceFor("defects", "1"));
        }

        // A restart: the per-model counters come from the state document, not from reading the records.
        using var reopened = new LiteDbInspectionStore(new StoreOptions { Path = DbPath }, _time);
        var state = reopened.LoadState();
        Assert.Equal(80, Assert.Single(state.ModelEvidence, e => e.Version == "1").Paired);
        Assert.Equal(10, Assert.Single(state.ModelEvidence, e => e.Version == "2").Paired);
        var hostB = new InspectorHost(new Renamed(new SimulatedModelInspector(), "defects", "2"));
        var restarted = new ModeController(reopened, new AutomationGate(Gate), _time, hostB);
        Assert.Equal(10, restarted.Evidence.Paired);
        Assert.False(restarted.TrySetMode(AutomationMode.Partial, "tester", "test", "still model B", force: false).Changed);
    }

    [Fact]
    public void StepDownIfUnsupported_ActiveModelWithoutEvidence_StepsDownToAssistAuditedAsSystem()
    {
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = DbPath }, _time);
        var host = new InspectorHost(new Renamed(new SimulatedModelInspector(accuracy: 0.97), "defects", "1"));
        var modes = new ModeController(store, new AutomationGate(Gate), _time, host);
        var engine = new StationEngine(new StationOptions(), host, modes, store, new SimulatedStationOutputs(),
            new SimulatedHumanInspector(new HumanInspectorOptions { Accuracy = 1 }), _time);
        RunParts(engine, 80, seed: 3);
        Assert.True(modes.TrySetMode(AutomationMode.Full, "tester", "test", "measured", force: false).Changed);
        Assert.Null(modes.StepDownIfUnsupported("test", "same model"));

        host.Swap(new Renamed(new SimulatedModelInspector(), "defects", "2"));
        var step = modes.StepDownIfUnsupported("promotion", "model defects v2 promoted");

        Assert.NotNull(step);
        Assert.Equal(AutomationMode.Assist, modes.Current);
        Assert.Equal(AutomationMode.Assist, store.LoadState().Mode);
        var audit = Assert.Single(store.AuditEvents(), e => e.Kind == "mode-step-down");
        Assert.Equal("system", audit.Actor);
        Assert.Equal(("full", "assist"), (audit.From, audit.To));
        Assert.Contains("model defects v2 promoted", audit.Reason);
        Assert.Contains("only 0 paired parts", audit.Reason);
    }

    [Fact]
    public void Construct_StateWithCarriedEvidence_CountsItForThatModelOnly()
    {
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = DbPath }, _time);
        var host = new InspectorHost(new Renamed(new SimulatedModelInspector(), "defects", "2"));
        new ModeController(store, new AutomationGate(Gate), _time, host).CarryEvidence("defects", "2", 120, 118);

        var restarted = new ModeController(store, new AutomationGate(Gate), _time, host);

        Assert.Equal((120L, 118L), restarted.Evidence);
        Assert.Equal((0L, 0L), restarted.EvidenceFor("defects", "1"));
        Assert.True(restarted.TrySetMode(AutomationMode.Full, "tester", "test", "carried shadow evidence", force: false).Changed);
    }
}
