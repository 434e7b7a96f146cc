using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Station.VirtualLine;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EdgeInspect.Station.Tests.Pipeline;

/// <summary>Start-up reads the device state only, never every record, so it costs the same with ten records or a million.</summary>
public sealed class StartupTests
{
    /// <summary>A store whose records cannot be listed (a damaged page, or simply too many to read at start).</summary>
    private sealed class UnlistableStore(InMemoryInspectionStore inner) : IInspectionStore
    {
        public int RecordReads { get; private set; }
        public void Append(InspectionRecord record) => inner.Append(record);
        public void AppendAudit(AuditEvent auditEvent) => inner.AppendAudit(auditEvent);
        public DeviceState LoadState() => inner.LoadState();
        public void SaveState(DeviceState state) => inner.SaveState(state);
        public IEnumerable<InspectionRecord> Records(DateTimeOffset? since = null)
        {
            RecordReads++;
            throw new InvalidOperationException("records are not read at start");
        }
        public IEnumerable<AuditEvent> AuditEvents(DateTimeOffset? since = null) => inner.AuditEvents(since);
        public void Dispose() => inner.Dispose();
    }

    [Fact]
    public void Construct_StoreWithPairedHistory_SequenceAndGateEvidenceFromStateWithoutReadingRecords()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
        using var inner = new InMemoryInspectionStore();
        for (var i = 1; i <= 40; i++)
        {
            inner.Append(new InspectionRecord
            {
                DeviceId = "d", Station = "s", Sequence = i, CapturedAt = time.GetUtcNow(), DecidedAt = time.GetUtcNow(),
                Mode = AutomationMode.Shadow, Verdict = Verdict.Ok, VerdictSource = VerdictSource.Human,
                HumanVerdict = Verdict.Ok, ModelVerdict = i % 4 == 0 ? Verdict.Ng : Verdict.Ok,
            });
        }
        var store = new UnlistableStore(inner);

        var modes = new ModeController(store, new AutomationGate(new GateOptions()), time);
        var engine = new StationEngine(new StationOptions(), new InspectorHost(new SimulatedModelInspector()), modes, store,
            new SimulatedStationOutputs(), null, time);
        using var frame = Core.Imaging.Frame.Faulted(1, time.GetUtcNow(), "p41", "no image");
        var next = engine.Decide(frame);

        Assert.Equal(0, store.RecordReads);
        Assert.Equal((40L, 30L), modes.Evidence);
        Assert.Equal(41, next.Record.Sequence);
    }
}
