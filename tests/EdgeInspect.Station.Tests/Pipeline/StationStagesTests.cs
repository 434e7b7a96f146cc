using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Station.VirtualLine;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EdgeInspect.Station.Tests.Pipeline;

/// <summary>The three hosted stages wired as the service wires them: capture -> inspection -> record (group commit).</summary>
public class StationStagesTests
{
    /// <summary>Counts group commits and can refuse one, like a full disk.</summary>
    private sealed class CountingStore : IInspectionStore
    {
        private readonly InMemoryInspectionStore _inner = new();
        public int Commits;
        public int RefuseCommit = -1;
        public long RefuseFirstCommitOf = -1; // refuses the first commit that holds this sequence


        public void Append(InspectionRecord record) => AppendMany([record]);

        public void AppendMany(IReadOnlyList<InspectionRecord> records)
        {
            int commit = Interlocked.Increment(ref Commits);
            if (commit == RefuseCommit) throw new IOException("No space left on device");
            if (RefuseFirstCommitOf > 0 && records.Any(r => r.Sequence == RefuseFirstCommitOf))
            {
                RefuseFirstCommitOf = -1;
                throw new IOException("No space left on device");
            }
            foreach (var r in records) _inner.Append(r);
            // An fsync: parts queue up behind it and are committed together. The first is slow (a checkpoint) so
            // the record channel fills however slowly a loaded machine renders parts.
            Thread.Sleep(commit == 1 ? 500 : 5);
        }

        public void AppendAudit(AuditEvent auditEvent) => _inner.AppendAudit(auditEvent);
        public DeviceState LoadState() => _inner.LoadState();
        public void SaveState(DeviceState state) => _inner.SaveState(state);
        public IEnumerable<InspectionRecord> Records(DateTimeOffset? since = null) => _inner.Records(since);
        public IEnumerable<AuditEvent> AuditEvents(DateTimeOffset? since = null) => _inner.AuditEvents(since);
        public void Dispose() => _inner.Dispose();
    }

    private static async Task<StationEngine> Run(CountingStore store, int parts)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
        var s = store.LoadState(); s.Mode = AutomationMode.Full; store.SaveState(s);
        var modes = new ModeController(store, new AutomationGate(new GateOptions()), time);
        var engine = new StationEngine(new StationOptions(), new InspectorHost(new SimulatedModelInspector(0.9)), modes, store, new SimulatedStationOutputs(), null, time);
        using var source = new VirtualLineSource(new PartRenderer(new PartRendererOptions { Seed = 11 }), TimeSpan.Zero, time, parts);
        var frames = new FrameChannel(4);
        var records = new RecordChannel(8);
        using var capture = new CaptureStage(source, frames, engine, NullLogger<CaptureStage>.Instance);
        using var inspection = new InspectionStage(frames, records, engine, NullLogger<InspectionStage>.Instance);
        using var recorder = new RecordStage(records, engine, NullLogger<RecordStage>.Instance);
        await recorder.StartAsync(CancellationToken.None);
        await inspection.StartAsync(CancellationToken.None);
        await capture.StartAsync(CancellationToken.None);
        await capture.ExecuteTask!.WaitAsync(TimeSpan.FromSeconds(60));
        await inspection.ExecuteTask!.WaitAsync(TimeSpan.FromSeconds(60));
        await recorder.ExecuteTask!.WaitAsync(TimeSpan.FromSeconds(60));
        return engine;
    }

    [Fact]
    public async Task ThreeStages_EveryPartStoredInDecisionOrder_InFewerCommitsThanParts()
    {
        using var store = new CountingStore();
        var engine = await Run(store, 200);

        Assert.Equal(Enumerable.Range(1, 200).Select(i => (long)i), store.Records().Select(r => r.Sequence));
        Assert.Equal(200, engine.Counters.PartsInspected);
        Assert.True(store.Commits < 200, $"{store.Commits} commits for 200 parts: the record stage should group parts that waited");
        Assert.Equal(200, store.LoadState().LastSequence); // saved when the record stage drains
    }

    [Fact]
    public async Task ThreeStages_StoreRefusesOneGroup_ItsPartsStoredAheadOfTheNextGroupNoneLost()
    {
        using var store = new CountingStore { RefuseCommit = 3 };
        var engine = await Run(store, 100);

        // The refused group (an I/O error) is held and stored with the next commit, in order, with its own numbers.
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), store.Records().Select(r => r.Sequence));
        Assert.Equal(100, engine.Counters.PartsInspected);
        Assert.InRange(engine.Counters.StoreFailures, 1, 32); // the one group, counted
        Assert.Equal(0, engine.UnstoredRecords);
    }

    [Fact]
    public async Task ThreeStages_StoreRefusesTheLastGroup_ItsPartsStoredWhenTheStagesStopNoneLost()
    {
        // No later part comes to carry the held records into the store: the record stage stores them as it stops.
        using var store = new CountingStore { RefuseFirstCommitOf = 60 };
        var engine = await Run(store, 60);

        Assert.Equal(Enumerable.Range(1, 60).Select(i => (long)i), store.Records().Select(r => r.Sequence));
        Assert.Equal(60, engine.Counters.PartsInspected);
        Assert.Equal(0, engine.UnstoredRecords);
        Assert.Equal(60, store.LoadState().LastSequence);
    }
}
