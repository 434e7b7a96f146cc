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
using EdgeInspect.Station.Fleet.Slots;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Station.VirtualLine;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Agent;

/// <summary>
/// Gate evidence belongs to a model, through the fleet agent: a promotion carries the candidate's shadow evidence, a
/// promotion that leaves too little steps the mode down, and in full mode the audit-sampled parts feed the watch that
/// rolls a wrong model back. Virtual line, stand-in models the test controls, the mode controller reading the host.
/// </summary>
public sealed class GateEvidenceTests : IDisposable
{
    private static readonly GateOptions Gate = new() { MinPairedParts = 20, MinAgreementLowerBound = 0.8 };
    private readonly TempDir _tmp = new();
    private readonly ECDsa _key = PackageKeys.Create();

    public void Dispose()
    {
        _key.Dispose();
        _tmp.Dispose();
    }

    /// <summary>Right on every part (reads the ground truth) until <see cref="Broken"/>: then it misses every defect.</summary>
    private sealed class StandIn(string version) : IInspector
    {
        private static readonly IReadOnlyDictionary<string, double> None = new Dictionary<string, double>();
        public string ModelName => "stand-in";
        public string ModelVersion { get; } = version;
        public bool Broken { get; set; }

        public InspectionResult Inspect(Frame frame)
        {
            var truth = (PartTruth)frame.GroundTruth!;
            var verdict = Broken ? Verdict.Ok : truth.Verdict;
            return new InspectionResult([], verdict, 0.99f, verdict == Verdict.Ok ? "ok" : truth.PartClass, None);
        }

        public void Dispose() { }
    }

    private sealed class Loader(StandIn candidate) : IInspectorLoader
    {
        public IInspector Load(string packageFolder) => candidate;
    }

    private sealed class NoValidator : IPackageValidator
    {
        public void Validate(VerifiedPackage package, CancellationToken cancellationToken) { }
    }

    /// <summary>An inspector who presses only when the station asks for a verdict (as at a line in full mode).</summary>
    private sealed class PressesWhenAsked : IHumanVerdictSource
    {
        private readonly SimulatedHumanInspector _inner = new(new HumanInspectorOptions { Accuracy = 1 });

        public HumanPress? Judge(Frame frame, TimeSpan maxWait) => maxWait > TimeSpan.Zero ? _inner.Judge(frame, maxWait) : null;
    }

    private sealed class Rig
    {
        public required InMemoryInspectionStore Store { get; init; }
        public required InspectorHost Host { get; init; }
        public required ModeController Modes { get; init; }
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

    /// <summary>
    /// Active model v1 (the host's), candidate v2 restored from slot b at start and shadowed from the first part. The
    /// store may start with <paramref name="v1History"/> paired parts of v1 (all agreed) and in <paramref name="mode"/>.
    /// </summary>
    private Rig Start(StandIn active, StandIn candidate, Action<FleetAgentOptions> configure, AutomationMode mode = AutomationMode.Shadow,
        int v1History = 0, double auditSampleRate = 0)
    {
        var keyFile = Path.Combine(_tmp.Sub("keys"), "fleet.pub");
        File.WriteAllText(keyFile, PackageKeys.ExportPublicPem(_key));
        var options = new FleetAgentOptions { TrustedKeys = [keyFile], SlotsFolder = _tmp.Sub("data") };
        configure(options);
        var store = new InMemoryInspectionStore();
        var time = TimeProvider.System;
        for (var i = 1; i <= v1History; i++)
        {
            store.Append(new InspectionRecord
            {
                DeviceId = "dev-01", Station = "s", Sequence = i, CapturedAt = time.GetUtcNow(), DecidedAt = time.GetUtcNow(),
                Mode = AutomationMode.Shadow, ModelName = "stand-in", ModelVersion = "1", Verdict = Verdict.Ok, VerdictSource = VerdictSource.Human,
                HumanVerdict = Verdict.Ok, ModelVerdict = Verdict.Ok,
            });
        }
        var state = store.LoadState();
        state.CandidateSlot = "b";
        state.Mode = mode;
        store.SaveState(state);
        var installer = new PackageInstaller(options.SlotsFolder, TestPackages.Trust(_key), new DeviceIdentity("dev-01", null), new NoValidator(), 1 << 20);
        TestPackages.Build(installer.SlotPath("b"), _key, TestPackages.Manifest(2));
        var host = new InspectorHost(active);
        var modes = new ModeController(store, new AutomationGate(Gate), time, host);
        var agent = new FleetAgent(options, store, modes, host, installer, new Loader(candidate), time);
        var engine = new StationEngine(new StationOptions { AuditSampleRate = auditSampleRate, AuditSampleSeed = 17 }, host, modes, store,
            new SimulatedStationOutputs(), new PressesWhenAsked(), time, observers: [agent]);
        agent.Start();
        Assert.True(agent.HasCandidate);
        var source = new VirtualLineSource(new PartRenderer(new PartRendererOptions { Seed = 5, Width = 160, Height = 120 }), TimeSpan.Zero, time);
        return new Rig { Store = store, Host = host, Modes = modes, Engine = engine, Agent = agent, Source = source };
    }

    [Fact]
    public async Task Promote_CandidateShadowedOnLiveParts_CarriesItsShadowEvidenceToTheNewActiveModel()
    {
        var rig = Start(new StandIn("1"), new StandIn("2"), o => o.Promotion = new PromotionOptions { MinParts = 20, MinAgreement = 0.8 });
        await rig.Parts(30);
        Assert.Equal(30, rig.Agent.ShadowReport()["candidate"]!["stats"]!["pairedWithHuman"]!.GetValue<long>());
        Assert.Equal((30L, 30L), rig.Modes.Evidence); // v1's own parts

        Assert.True(rig.Agent.Promote("tester", "test", "gate met", force: false).Done);

        Assert.Equal("2", rig.Host.Current!.ModelVersion);
        Assert.Equal((30L, 30L), rig.Modes.Evidence);
        Assert.Equal((30L, 30L), rig.Modes.EvidenceFor("stand-in", "1"));
        var carried = Assert.Single(rig.Store.LoadState().CarriedEvidence);
        Assert.Equal(("stand-in", "2", 30L, 30L), (carried.Model, carried.Version, carried.Paired, carried.Agreed));
        // A restart reads it back from the state.
        var restarted = new ModeController(rig.Store, new AutomationGate(Gate), TimeProvider.System, rig.Host);
        Assert.Equal((30L, 30L), restarted.Evidence);
        Assert.True(rig.Modes.TrySetMode(AutomationMode.Full, "tester", "test", "v2's shadow evidence", force: false).Changed);
        Assert.DoesNotContain(rig.Store.AuditEvents(), e => e.Kind == "mode-step-down");
    }

    [Fact]
    public async Task Promote_ForcedWithTooLittleEvidence_StepsModeDownToAssistAudited()
    {
        // Full on v1's 60 paired parts; in full without audit sampling the inspector presses for no part, so the
        // candidate's shadow gathers no verdict to compare with.
        var rig = Start(new StandIn("1"), new StandIn("2"), _ => { }, AutomationMode.Full, v1History: 60);
        await rig.Parts(30);
        Assert.Equal(0, rig.Agent.ShadowReport()["candidate"]!["stats"]!["pairedWithHuman"]!.GetValue<long>());
        Assert.Equal(AutomationMode.Full, rig.Modes.Current);

        Assert.True(rig.Agent.Promote("tester", "test", "urgent fix", force: true).Done);

        Assert.Equal("2", rig.Host.Current!.ModelVersion);
        Assert.Equal(AutomationMode.Assist, rig.Modes.Current);
        Assert.Equal(AutomationMode.Assist, rig.Store.LoadState().Mode);
        var audit = Assert.Single(rig.Store.AuditEvents(), e => e.Kind == "mode-step-down");
        Assert.Equal(("system", "full", "assist"), (audit.Actor, audit.From, audit.To));
        Assert.Contains("stand-in v2", audit.Reason);
        Assert.Contains("only 0 paired parts", audit.Reason);
        // The next part waits for the human.
        var next = Assert.Single(await rig.Parts(1));
        Assert.Equal(VerdictSource.Human, next.VerdictSource);
    }

    [Fact]
    public async Task Rollback_ToModelWithItsOwnEvidence_ModeStands()
    {
        var rig = Start(new StandIn("1"), new StandIn("2"), o => o.Promotion = new PromotionOptions { MinParts = 20, MinAgreement = 0.8 });
        await rig.Parts(30);
        Assert.True(rig.Agent.Promote("tester", "test", "gate met", force: false).Done);
        Assert.True(rig.Modes.TrySetMode(AutomationMode.Full, "tester", "test", "v2 measured as candidate", force: false).Changed);

        Assert.True(rig.Agent.Rollback("tester", "test", "back to v1").Done);

        Assert.Equal("1", rig.Host.Current!.ModelVersion);
        Assert.Equal(AutomationMode.Full, rig.Modes.Current); // v1 has its own 30 agreeing parts
        Assert.DoesNotContain(rig.Store.AuditEvents(), e => e.Kind == "mode-step-down");
    }

    [Fact]
    public async Task Rollback_ToModelWhoseAgreementFailsTheGate_StepsModeDownAudited()
    {
        // v1 misses every defect: its 30 shadow parts agree with the inspector on about half.
        var rig = Start(new StandIn("1") { Broken = true }, new StandIn("2"), o => o.Promotion = new PromotionOptions { MinParts = 20, MinAgreement = 0.8 });
        await rig.Parts(30);
        Assert.True(rig.Agent.Promote("tester", "test", "gate met", force: false).Done);
        Assert.True(rig.Modes.TrySetMode(AutomationMode.Full, "tester", "test", "v2 measured as candidate", force: false).Changed);

        Assert.True(rig.Agent.Rollback("tester", "test", "back to v1").Done);

        Assert.Equal("1", rig.Host.Current!.ModelVersion);
        Assert.Equal(AutomationMode.Assist, rig.Modes.Current);
        var audit = Assert.Single(rig.Store.AuditEvents(), e => e.Kind == "mode-step-down");
        Assert.Equal(("system", "test", "full", "assist"), (audit.Actor, audit.Source, audit.From, audit.To)); // the source of the rollback
        Assert.Contains("rolled back to model stand-in v1", audit.Reason);
        Assert.Contains("Wilson 95% lower bound", audit.Reason);
    }

    [Fact]
    public async Task OnPart_AuditSampledDisagreementsInFullMode_RollPromotedModelBack()
    {
        var candidate = new StandIn("2");
        var rig = Start(new StandIn("1"), candidate, o =>
        {
            o.Promotion = new PromotionOptions { MinParts = 20, MinAgreement = 0.8 };
            o.Rollback = new RollbackOptions { Auto = true, WindowParts = 50, MinComparedParts = 10, WatchParts = 2000, MaxErrorRate = 0.2 };
        }, AutomationMode.Full, v1History: 60, auditSampleRate: 0.2);
        // In full, the candidate is compared with the human only on the audit-sampled parts.
        await rig.Parts(150);
        var shadowed = rig.Agent.ShadowReport()["candidate"]!["stats"]!["pairedWithHuman"]!.GetValue<long>();
        Assert.InRange(shadowed, 20, 45);
        Assert.True(rig.Agent.Promote("tester", "test", "gate met on sampled parts", force: false).Done);
        Assert.Equal(AutomationMode.Full, rig.Modes.Current);
        candidate.Broken = true; // from now on it passes every defect: only the sampled parts can show it

        var records = await rig.Parts(300);

        var rollback = Assert.Single(rig.Store.AuditEvents(), e => e.Kind == "model-auto-rollback");
        Assert.Contains("disagreement with the human", rollback.Reason);
        Assert.Equal("1", rig.Host.Current!.ModelVersion);
        var v2 = records.TakeWhile(r => r.ModelVersion == "2").ToList();
        Assert.All(v2, r => Assert.Equal(AutomationMode.Full, r.Mode));
        // Every part the watch compared was an audit sample, decided by the human.
        Assert.All(v2.Where(r => r.HumanVerdict is not null), r => Assert.Equal(VerdictSource.Human, r.VerdictSource));
        Assert.InRange(v2.Count(r => r.HumanVerdict is not null), 10, 60);
    }
}
