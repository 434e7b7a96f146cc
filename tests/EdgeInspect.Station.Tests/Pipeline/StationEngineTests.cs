using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Shadow;
using EdgeInspect.Core.Storage;
using EdgeInspect.Core.Telemetry;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Station.VirtualLine;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Station.Tests.Pipeline;

public class StationEngineTests
{
    private sealed class Rig
    {
        public FakeTimeProvider Time { get; }
        public InMemoryInspectionStore Store { get; } = new();
        public SimulatedStationOutputs Outputs { get; } = new();
        public ModeController Modes { get; }
        public StationEngine Engine { get; }
        public PartRenderer Renderer { get; } = new(new PartRendererOptions { Seed = 4, DefectRate = 0.4 });

        public Rig(AutomationMode mode, double modelAccuracy = 0.9, double humanAccuracy = 0.95, ITelemetryRecorder? telemetry = null, FakeTimeProvider? time = null)
        {
            Time = time ?? new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
            var s = Store.LoadState(); s.Mode = mode; Store.SaveState(s);
            Modes = new ModeController(Store, new AutomationGate(new GateOptions { MinPairedParts = 50, MinAgreementLowerBound = 0.8 }), Time);
            Engine = new StationEngine(new StationOptions(), new InspectorHost(new SimulatedModelInspector(modelAccuracy)), Modes, Store, Outputs,
                new SimulatedHumanInspector(new HumanInspectorOptions { Accuracy = humanAccuracy }), Time, telemetry);
        }

        public List<(InspectionRecord Record, PartTruth Truth)> RunParts(int n)
        {
            var source = new VirtualLineSource(Renderer, TimeSpan.Zero, Time, n);
            var list = new List<(InspectionRecord, PartTruth)>();
            while (source.ReadAsync(CancellationToken.None).AsTask().Result is { } frame)
            {
                using (frame) list.Add((Engine.Process(frame), (PartTruth)frame.GroundTruth!));
            }
            return list;
        }
    }

    [Fact]
    public void Process_FullMode_RejectFiresForEveryModelNgPart()
    {
        var rig = new Rig(AutomationMode.Full);
        var parts = rig.RunParts(120);
        long ng = parts.Count(p => p.Record.Verdict == Verdict.Ng);
        Assert.True(ng > 20);
        Assert.Equal(ng, rig.Outputs.Rejects);
        Assert.All(parts, p => Assert.Equal(VerdictSource.Model, p.Record.VerdictSource));
    }

    [Fact]
    public void Process_ShadowMode_RejectNeverFiresAndHumanDecides()
    {
        var rig = new Rig(AutomationMode.Shadow);
        var parts = rig.RunParts(120);
        Assert.Equal(0, rig.Outputs.Rejects);
        Assert.Contains(parts, p => p.Record.Verdict == Verdict.Ng);
        Assert.All(parts, p => Assert.Equal(VerdictSource.Human, p.Record.VerdictSource));
        Assert.All(parts, p => Assert.NotNull(p.Record.ModelVerdict));
    }

    [Trait(TestCategories.Name, TestCategories.Slow)]
    [Fact]
    public void ShadowReport_FromStore_AgreesWithGroundTruthScoring()
    {
        var rig = new Rig(AutomationMode.Shadow, modelAccuracy: 0.85, humanAccuracy: 0.95);
        var parts = rig.RunParts(300);
        // Ground truth scores model and human on the same parts ...
        double modelAcc = parts.Average(p => p.Record.ModelVerdict == p.Truth.Verdict ? 1.0 : 0);
        double humanAcc = parts.Average(p => p.Record.HumanVerdict == p.Truth.Verdict ? 1.0 : 0);
        Assert.InRange(modelAcc, 0.78, 0.92);
        Assert.InRange(humanAcc, 0.91, 0.99);
        // ... and the shadow report, built only from the store, matches the agreement those imply.
        var stats = new ShadowStatistics();
        stats.AddRange(rig.Store.Records());
        var report = stats.Report();
        Assert.Equal(300, report.PairedParts);
        long agreeByTruth = parts.Count(p => p.Record.ModelVerdict == p.Record.HumanVerdict);
        Assert.Equal(agreeByTruth, report.VerdictAgreements);
        Assert.InRange(report.Agreement, report.AgreementLower, report.AgreementUpper);
        // Agreement of two independent raters with accuracies a and h: a*h + (1-a)(1-h).
        double expected = modelAcc * humanAcc + (1 - modelAcc) * (1 - humanAcc);
        Assert.InRange(report.Agreement, expected - 0.05, expected + 0.05);
    }

    [Fact]
    public void TrySetMode_GateWithoutEvidence_RefusesThenForceSucceedsAndAudits()
    {
        var rig = new Rig(AutomationMode.Shadow);
        var refused = rig.Modes.TrySetMode(AutomationMode.Full, "tech", "cli", "line trial", force: false);
        Assert.False(refused.Changed);
        Assert.Contains("gate refused", refused.Reason);
        Assert.Equal(AutomationMode.Shadow, rig.Store.LoadState().Mode);

        var forced = rig.Modes.TrySetMode(AutomationMode.Full, "tech", "cli", "supervisor approved", force: true);
        Assert.True(forced.Changed);
        Assert.Equal(AutomationMode.Full, rig.Store.LoadState().Mode);
        var audit = rig.Store.AuditEvents().ToList();
        Assert.Equal(["mode-change-refused", "mode-change"], audit.Select(a => a.Kind));
        Assert.Equal(("shadow", "full", "tech", "cli"), (audit[1].From, audit[1].To, audit[1].Actor, audit[1].Source));
        Assert.Equal(rig.Time.GetUtcNow(), audit[1].At);
    }

    [Fact]
    public void TrySetMode_AfterGoodShadowEvidence_GateAllowsPartial()
    {
        var rig = new Rig(AutomationMode.Shadow, modelAccuracy: 1.0, humanAccuracy: 1.0);
        rig.RunParts(80);
        var r = rig.Modes.TrySetMode(AutomationMode.Partial, "tech", "cli", "evidence in", force: false);
        Assert.True(r.Changed, r.Reason);
    }

    [Fact]
    public void PollOnce_RequestFile_AppliedThroughControllerAndReplied()
    {
        var rig = new Rig(AutomationMode.Shadow);
        string dir = Directory.CreateTempSubdirectory("ei-ctl-").FullName;
        try
        {
            var folder = new ModeControlFolder(dir, rig.Modes, rig.Time, NullLogger<ModeControlFolder>.Instance);
            ModeControlFolder.WriteRequest(dir, new ModeRequest("r1", "assist", "operator training", false, "tech"));
            Assert.Equal(1, folder.PollOnce());
            Assert.Equal(AutomationMode.Assist, rig.Store.LoadState().Mode);
            var reply = System.Text.Json.JsonSerializer.Deserialize<ModeReply>(File.ReadAllText(ModeControlFolder.ReplyPath(dir, "r1")))!;
            Assert.True(reply.Changed);
            Assert.False(File.Exists(ModeControlFolder.RequestPath(dir, "r1")));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void Process_WithTelemetryRecorder_PartsLatencyClassesAndInputStatsReported()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
        var recorder = new TelemetryRecorder("dev-001", time, baselineFrames: 10, thermalRoot: "/nonexistent");
        var rig = new Rig(AutomationMode.Full, telemetry: recorder, time: time);
        var parts = rig.RunParts(40);
        rig.Time.Advance(TimeSpan.FromSeconds(4));
        var s = recorder.TakeSnapshot();
        Assert.Equal(40, s.Frames.Inspected);
        Assert.Equal(10, s.Frames.PartRate, 9);
        Assert.Equal(40, s.LatencyMs["total"].Count);
        Assert.Equal(40, s.Output.Parts);
        Assert.Equal(parts.Count(p => p.Record.ModelClass == "ok"), s.Output.Classes.GetValueOrDefault("ok"));
        Assert.Equal(40, s.Input.Frames);
        Assert.NotNull(s.Input.Brightness);
        Assert.Equal("firstFrames", s.Input.Baseline?.Source);
        Assert.NotNull(s.Input.DriftScore);
    }
}

public class GpioOutputsTests
{
    [Fact]
    public async Task Process_FullModeOnSimulatedDriver_RejectPinPulsesPerNgPart()
    {
        var time = new FakeTimeProvider();
        var driver = new EdgeInspect.Gpio.SimulatedGpioDriver();
        using var gpio = new System.Device.Gpio.GpioController(driver);
        using var outputs = new EdgeInspect.Station.Io.GpioStationOutputs(gpio, 23, 24, TimeSpan.FromMilliseconds(50), time);
        var store = new InMemoryInspectionStore();
        var s = store.LoadState(); s.Mode = AutomationMode.Full; store.SaveState(s);
        var modes = new ModeController(store, new AutomationGate(new GateOptions()), time);
        var engine = new StationEngine(new StationOptions(), new InspectorHost(new SimulatedModelInspector(0.9)), modes, store, outputs, null, time);
        var source = new VirtualLineSource(new PartRenderer(new PartRendererOptions { Seed = 8 }), TimeSpan.Zero, time, 40);
        int ng = 0;
        while (await source.ReadAsync(CancellationToken.None) is { } frame)
        {
            using (frame) if (engine.Process(frame).Verdict == Verdict.Ng) ng++;
            time.Advance(TimeSpan.FromMilliseconds(100)); // parts further apart than the pulse
            Assert.Equal(System.Device.Gpio.PinValue.Low, gpio.Read(23));
        }
        Assert.True(ng > 5);
        Assert.Equal(ng, driver.RisingEdges(23));
    }

    [Fact]
    public void Press_BouncingContact_CountsOnePressAfterDebounce()
    {
        var time = new FakeTimeProvider();
        var driver = new EdgeInspect.Gpio.SimulatedGpioDriver();
        using var gpio = new System.Device.Gpio.GpioController(driver);
        using var button = new EdgeInspect.Gpio.DebouncedButton(gpio, 17, TimeSpan.FromMilliseconds(20), time);
        int presses = 0;
        button.Pressed += _ => presses++;
        for (int i = 0; i < 5; i++)
        {
            driver.SetInput(17, System.Device.Gpio.PinValue.High);
            time.Advance(TimeSpan.FromMilliseconds(2));
            driver.SetInput(17, System.Device.Gpio.PinValue.Low);
            time.Advance(TimeSpan.FromMilliseconds(2));
        }
        driver.SetInput(17, System.Device.Gpio.PinValue.High);
        Assert.Equal(0, presses);
        time.Advance(TimeSpan.FromMilliseconds(25));
        Assert.Equal(1, presses);
        driver.SetInput(17, System.Device.Gpio.PinValue.Low);
        time.Advance(TimeSpan.FromMilliseconds(25));
        Assert.Equal(1, presses);
    }
}

public class SequenceTests
{
    [Fact]
    public async Task Process_RestartWithoutSavedCounter_ContinuesAfterStoredRecords()
    {
        var time = new FakeTimeProvider();
        var store = new InMemoryInspectionStore();
        var modes = new ModeController(store, new AutomationGate(new GateOptions()), time);
        var renderer = new PartRenderer(new PartRendererOptions());
        var human = new SimulatedHumanInspector(new HumanInspectorOptions());
        for (int run = 0; run < 2; run++)
        {
            // A crash: SaveSequence is never called between the two engines.
            var engine = new StationEngine(new StationOptions(), new InspectorHost(new SimulatedModelInspector()), modes, store, new SimulatedStationOutputs(), human, time);
            var source = new VirtualLineSource(renderer, TimeSpan.Zero, time, 5);
            while (await source.ReadAsync(CancellationToken.None) is { } frame) using (frame) engine.Process(frame);
        }
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (long)i), store.Records().Select(r => r.Sequence));
    }
}
