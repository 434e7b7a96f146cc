using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Geometry;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Storage;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Configuration;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Station.VirtualLine;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EdgeInspect.Station.Tests.Automation;

/// <summary>Audit sampling in partial and full: the engine on the virtual line with the simulated inspector.</summary>
public sealed class AuditSamplingTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 8, 0, 0, TimeSpan.Zero));

    /// <summary>The simulated inspector, noting how long the engine was ready to wait for each part's press.</summary>
    private sealed class WatchedHuman(SimulatedHumanInspector inner) : IHumanVerdictSource
    {
        public Dictionary<string, TimeSpan> Waits { get; } = [];

        public HumanPress? Judge(Frame frame, TimeSpan maxWait)
        {
            Waits[frame.PartId!] = maxWait;
            return inner.Judge(frame, maxWait);
        }
    }

    private (List<InspectionRecord> Records, WatchedHuman Human, StationEngine Engine) Run(AutomationMode mode, double rate, int parts, ulong seed)
    {
        var store = new InMemoryInspectionStore();
        var state = store.LoadState();
        state.Mode = mode;
        store.SaveState(state);
        var host = new InspectorHost(new SimulatedModelInspector(accuracy: 0.95));
        var modes = new ModeController(store, new AutomationGate(new GateOptions()), _time, host);
        var human = new WatchedHuman(new SimulatedHumanInspector(new HumanInspectorOptions { Accuracy = 1 }));
        var options = new StationOptions { AuditSampleRate = rate, AuditSampleSeed = seed, HumanWindow = TimeSpan.FromSeconds(7) };
        var engine = new StationEngine(options, host, modes, store, new SimulatedStationOutputs(), human, _time);
        var records = new List<InspectionRecord>(parts);
        for (var i = 0; i < parts; i++)
        {
            using var frame = Part(i);
            records.Add(engine.Process(frame));
        }
        return (records, human, engine);
    }

    /// <summary>
    /// A virtual-line part without its pixels (the simulated model and inspector read only the ground truth), so
    /// thousands of parts take no rendering time; every third part has a scratch.
    /// </summary>
    private Frame Part(int index)
    {
        var id = $"p{index}";
        DefectTruth[] defects = index % 3 == 0 ? [new DefectTruth(DefectClasses.Scratch, new BoxF(10, 10, 20, 20))] : [];
        return new Frame(new ImageBuffer(1, 1), index, _time.GetUtcNow(), id) { GroundTruth = new PartTruth(index, id, defects, new BoxF(0, 0, 160, 120)) };
    }

    [Fact]
    public void Decide_FullModeFivePercentSampling_RateWithinHalfAPointAndSampledPartsWaitForTheHuman()
    {
        const int parts = 10_000;
        var (records, human, engine) = Run(AutomationMode.Full, rate: 0.05, parts, seed: 42);

        var sampled = records.Where(r => r.VerdictSource == VerdictSource.Human).ToList();
        // 10,000 draws at 5 %: 500 expected, standard deviation 21.8; half a percentage point is about 2.3 of them.
        Assert.InRange(sampled.Count, 450, 550);
        Assert.Equal(sampled.Count, engine.Counters.AuditSamples);
        Assert.All(sampled, r =>
        {
            Assert.Equal(TimeSpan.FromSeconds(7), human.Waits[r.PartId!]);
            Assert.Equal(r.HumanVerdict, r.Verdict);
            Assert.NotNull(r.ModelVerdict);
        });
        var decidedByModel = records.Where(r => r.VerdictSource == VerdictSource.Model).ToList();
        Assert.Equal(parts - sampled.Count, decidedByModel.Count);
        Assert.All(decidedByModel, r => Assert.Equal(TimeSpan.Zero, human.Waits[r.PartId!]));
    }

    [Fact]
    public void Decide_SameSeed_SamplesTheSameParts()
    {
        var first = Run(AutomationMode.Full, rate: 0.1, parts: 300, seed: 7).Records.Where(r => r.VerdictSource == VerdictSource.Human).Select(r => r.PartId);
        var second = Run(AutomationMode.Full, rate: 0.1, parts: 300, seed: 7).Records.Where(r => r.VerdictSource == VerdictSource.Human).Select(r => r.PartId);

        Assert.NotEmpty(first);
        Assert.Equal(first, second);
    }

    [Fact]
    public void Decide_ShadowMode_NoPartCountsAsAuditSample()
    {
        var (records, _, engine) = Run(AutomationMode.Shadow, rate: 0.5, parts: 100, seed: 1);

        Assert.Equal(0, engine.Counters.AuditSamples);
        Assert.All(records, r => Assert.Equal(VerdictSource.Human, r.VerdictSource));
    }

    [Fact]
    public void Validate_AuditSampleRateAboveOne_NamesTheKey()
    {
        var e = Assert.Throws<ConfigValueException>(() => new AutomationOptions { AuditSampleRate = 1.5 }.Validate());

        Assert.Equal("Automation:AuditSampleRate", e.Key);
        Assert.Equal(0.02, new AutomationOptions().AuditSampleRate);
    }
}
