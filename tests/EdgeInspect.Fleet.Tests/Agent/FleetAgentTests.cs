using System.Security.Cryptography;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Core.Storage;
using EdgeInspect.Fleet.Protocol.Packages;
using EdgeInspect.Fleet.Protocol.Signing;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Fleet;
using EdgeInspect.Station.Fleet.Mqtt;
using EdgeInspect.Station.Fleet.Slots;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Station.VirtualLine;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Agent;

/// <summary>
/// The agent's automatic decisions, on the virtual line with stand-in models whose behaviour the test controls
/// (no ONNX, no broker): auto promotion at the gate, auto rollback on error rate and on latency, candidate rejection.
/// </summary>
public sealed class FleetAgentTests : IDisposable
{
    private readonly TempDir _tmp = new();
    private readonly ECDsa _key = PackageKeys.Create();

    public void Dispose()
    {
        _key.Dispose();
        _tmp.Dispose();
    }

    /// <summary>Right on every part (reads the ground truth) until <see cref="Break"/>: then wrong on defects, or slow.</summary>
    private sealed class StandIn(string version) : IInspector
    {
        private static readonly IReadOnlyDictionary<string, double> None = new Dictionary<string, double>();
        public string ModelName => "stand-in";
        public string ModelVersion { get; } = version;
        public bool Broken { get; set; }
        public int SlowMs { get; set; }
        public bool Disposed { get; private set; }

        public InspectionResult Inspect(Frame frame)
        {
            var truth = (PartTruth)frame.GroundTruth!;
            if (SlowMs > 0) Thread.Sleep(SlowMs);
            var verdict = Broken ? Verdict.Ok : truth.Verdict;
            return new InspectionResult([], verdict, 0.99f, verdict == Verdict.Ok ? "ok" : truth.PartClass, None);
        }

        public void Dispose() => Disposed = true;
    }

    private sealed class Loader(StandIn candidate) : IInspectorLoader
    {
        public IInspector Load(string packageFolder) => candidate;
    }

    private sealed class Rig
    {
        public required InMemoryInspectionStore Store { get; init; }
        public required InspectorHost Host { get; init; }
        public required StationEngine Engine { get; init; }
        public required FleetAgent Agent { get; init; }
        public required VirtualLineSource Source { get; init; }

        public async Task<List<InspectionRecord>> Parts(int n)
        {
            var records = new List<InspectionRecord>();
            for (var i = 0; i < n; i++)
            {
                using var frame = (await Source.ReadAsync(default))!;
                records.Add(Engine.Process(frame));
            }
            return records;
        }
    }

    /// <summary>A station whose active model is v1 and whose candidate (v2, restored from slot b at start) is <paramref name="candidate"/>.</summary>
    private Rig Start(StandIn active, StandIn candidate, Action<FleetAgentOptions> configure)
    {
        var keyFile = Path.Combine(_tmp.Sub("keys"), "fleet.pub");
        File.WriteAllText(keyFile, PackageKeys.ExportPublicPem(_key));
        var options = new FleetAgentOptions { TrustedKeys = [keyFile], SlotsFolder = _tmp.Sub("data") };
        configure(options);
        var store = new InMemoryInspectionStore();
        var state = store.LoadState();
        state.CandidateSlot = "b";
        store.SaveState(state);
        var keys = TestPackages.Trust(_key);
        var installer = new PackageInstaller(options.SlotsFolder, keys, new DeviceIdentity("dev-01", null), new NoValidator(), 1 << 20);
        TestPackages.Build(installer.SlotPath("b"), _key, TestPackages.Manifest(2));
        var time = TimeProvider.System;
        var modes = new ModeController(store, new AutomationGate(new GateOptions()), time);
        var host = new InspectorHost(active);
        var agent = new FleetAgent(options, store, modes, host, installer, new Loader(candidate), time);
        var engine = new StationEngine(new StationOptions(), host, modes, store, new SimulatedStationOutputs(),
            new SimulatedHumanInspector(new HumanInspectorOptions { Accuracy = 1 }), time, observers: [agent]);
        agent.Start();
        Assert.True(agent.HasCandidate);
        var source = new VirtualLineSource(new PartRenderer(new PartRendererOptions { Seed = 5, Width = 160, Height = 120 }), TimeSpan.Zero, time);
        return new Rig { Store = store, Host = host, Engine = engine, Agent = agent, Source = source };
    }

    private sealed class NoValidator : IPackageValidator
    {
        public void Validate(VerifiedPackage package, CancellationToken cancellationToken) { }
    }

    [Fact]
    public async Task OnPart_GateMetWithAutoPromotion_PromotesBetweenFrames()
    {
        var rig = Start(new StandIn("1"), new StandIn("2"), o => o.Promotion = new PromotionOptions { Auto = true, MinParts = 20, MinAgreement = 0.8 });

        var records = await rig.Parts(40);

        Assert.Equal(1, rig.Agent.Swaps);
        var firstV2 = records.FindIndex(r => r.ModelVersion == "2");
        Assert.InRange(firstV2, 20, 21);
        Assert.All(records.Take(firstV2), r => Assert.Equal("1", r.ModelVersion));
        Assert.All(records.Skip(firstV2), r => Assert.Equal("2", r.ModelVersion));
        Assert.Contains(rig.Store.AuditEvents(), e => e.Kind == "model-promoted" && e.Source == "auto-promote");
        Assert.Equal("b", rig.Store.LoadState().ActiveSlot);
    }

    [Fact]
    public async Task OnPart_PromotedModelErrorRateOverLimit_RolledBackAutomatically()
    {
        var candidate = new StandIn("2");
        var rig = Start(new StandIn("1"), candidate, o => o.Rollback = new RollbackOptions { Auto = true, WindowParts = 20, WatchParts = 200, MaxErrorRate = 0.2 });
        await rig.Parts(5);
        Assert.True(rig.Agent.Promote("tester", "test", "trial", force: true).Done);
        candidate.Broken = true; // misses every defect from now on (about half the parts on this line)

        var records = await rig.Parts(60);

        Assert.Equal(2, rig.Agent.Swaps);
        var rollback = Assert.Single(rig.Store.AuditEvents(), e => e.Kind == "model-auto-rollback");
        Assert.Contains("Fleet:Rollback:MaxErrorRate", rollback.Reason);
        Assert.Equal("1", records[^1].ModelVersion);
        Assert.Null(rig.Store.LoadState().ActiveSlot);
        Assert.True(records.All(r => r.ModelVerdict is not null), "a part went without a model verdict");
    }

    [Fact]
    public async Task OnPart_PromotedModelLatencyOverLimit_RolledBackAutomatically()
    {
        var candidate = new StandIn("2");
        var rig = Start(new StandIn("1"), candidate, o => o.Rollback = new RollbackOptions { Auto = true, WindowParts = 10, WatchParts = 100, MaxErrorRate = 1, MaxLatencyMs = 15 });
        Assert.True(rig.Agent.Promote("tester", "test", "trial", force: true).Done);
        candidate.SlowMs = 30;

        var records = await rig.Parts(15);

        var rollback = Assert.Single(rig.Store.AuditEvents(), e => e.Kind == "model-auto-rollback");
        Assert.Contains("Fleet:Rollback:MaxLatencyMs", rollback.Reason);
        Assert.Equal("1", records[^1].ModelVersion);
    }

    [Fact]
    public async Task OnPart_CandidateErrorRateOverLimit_CandidateRejectedActiveUntouched()
    {
        var candidate = new StandIn("2") { Broken = true };
        var rig = Start(new StandIn("1"), candidate, o => o.Rollback = new RollbackOptions { WindowParts = 20, WatchParts = 100, MaxErrorRate = 0.2 });

        var records = await rig.Parts(30);

        Assert.False(rig.Agent.HasCandidate);
        Assert.True(candidate.Disposed);
        Assert.Equal(0, rig.Agent.Swaps);
        Assert.All(records, r => Assert.Equal("1", r.ModelVersion));
        Assert.Contains(rig.Store.AuditEvents(), e => e.Kind == "candidate-rejected");
        Assert.Null(rig.Store.LoadState().CandidateSlot);
        Assert.Equal("no-candidate", rig.Agent.Promote("tester", "test", "try", force: true).Code);
    }

    [Fact]
    public async Task Start_AfterPromotionAndRestart_ActiveSlotModelServesAgain()
    {
        var candidate = new StandIn("2");
        var rig = Start(new StandIn("1"), candidate, _ => { });
        Assert.True(rig.Agent.Promote("tester", "test", "trial", force: true).Done);
        await rig.Parts(3);
        Assert.Equal("b", rig.Store.LoadState().ActiveSlot);

        // A restart: a new host with the profile's model, a new agent on the same store and slots.
        var host = new InspectorHost(new StandIn("1"));
        var modes = new ModeController(rig.Store, new AutomationGate(new GateOptions()), TimeProvider.System);
        var keys = TestPackages.Trust(_key);
        var installer = new PackageInstaller(Path.Combine(_tmp.Path, "data"), keys, new DeviceIdentity("dev-01", null), new NoValidator(), 1 << 20);
        using var agent = new FleetAgent(new FleetAgentOptions { TrustedKeys = ["k"], SlotsFolder = Path.Combine(_tmp.Path, "data") },
            rig.Store, modes, host, installer, new Loader(new StandIn("2")), TimeProvider.System);

        agent.Start();

        Assert.Equal("2", host.Current!.ModelVersion);
        Assert.False(agent.HasCandidate);
        Assert.Contains(rig.Store.AuditEvents(), e => e.Kind == "model-restored");
        Assert.Equal("serving", agent.Status()["modelState"]!.GetValue<string>());
        // No previous slot was recorded (the first promotion replaced the profile's model), so that model is the previous one.
        Assert.True(agent.Rollback("tester", "test", "after restart").Done);
        Assert.Equal("1", host.Current!.ModelVersion);
    }

    [Fact]
    public void Promote_GateNotMet_RefusedWithReasonAndAudited()
    {
        var rig = Start(new StandIn("1"), new StandIn("2"), o => o.Promotion = new PromotionOptions { MinParts = 50 });

        var r = rig.Agent.Promote("tester", "test", "too early", force: false);

        Assert.False(r.Done);
        Assert.Equal("gate-not-met", r.Code);
        Assert.Contains("Fleet:Promotion:MinParts", r.Reason);
        Assert.Contains(rig.Store.AuditEvents(), e => e.Kind == "promote-refused");
        Assert.Equal("no-previous", rig.Agent.Rollback("tester", "test", "nothing to go back to").Code);
    }
}
