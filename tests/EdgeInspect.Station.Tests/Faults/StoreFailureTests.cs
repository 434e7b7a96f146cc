using System.Device.Gpio;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Core.Storage;
using EdgeInspect.Gpio;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Io;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.TestSupport;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EdgeInspect.Station.Tests.Faults;

/// <summary>The real LiteDB store on a small tmpfs that fills up while parts run, then gets its space back.</summary>
public sealed class StoreFailureTests
{
    private const int ReadyPin = 25;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));

    private sealed class OkInspector : IInspector
    {
        public string ModelName => "ok";
        public string ModelVersion => "1";
        public InspectionResult Inspect(Frame frame) => new([], Verdict.Ok, 0.99f, "ok", new Dictionary<string, double>());
        public void Dispose() { }
    }

    private static Frame Part(long i) => new(new ImageBuffer(64, 48), i, DateTimeOffset.UnixEpoch, $"p{i}");

    /// <summary>One part as the stages handle it: decided, then committed; a refused commit is reported as the record stage does.</summary>
    private static (InspectionRecord Record, bool Stored) Run(StationEngine engine, long i)
    {
        using var frame = Part(i);
        var part = engine.Decide(frame);
        try
        {
            engine.Commit([part]);
            return (part.Record, true);
        }
        catch (IOException e)
        {
            engine.CommitFailed([part], e);
            return (part.Record, false);
        }
    }

    [TmpfsFact]
    public void Commit_DiskFullThenSpaceFreed_PartsFailSafeReadyOutputDropsAndReturnsNothingStoredLost()
    {
        using var tmpfs = new TmpfsMount(4 * 1024 * 1024);
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(tmpfs.Folder, "store.db") }, _time);
        var state = store.LoadState(); state.Mode = AutomationMode.Full; store.SaveState(state);
        var modes = new ModeController(store, new AutomationGate(new GateOptions()), _time);
        var outputs = new SimulatedStationOutputs();
        var engine = new StationEngine(new StationOptions(), new InspectorHost(new OkInspector()), modes, store, outputs, null, _time);
        using var gpio = new GpioController(new SimulatedGpioDriver());
        using var ready = new StationReadyOutput(gpio, ReadyPin, activeLow: false, engine, TimeSpan.FromSeconds(5), _time, NullLogger<StationReadyOutput>.Instance);

        var stored = new List<long>();
        long i = 0;
        for (; i < 5; i++) stored.Add(Run(engine, i).Record.Sequence);
        Assert.True(ready.Update());
        Assert.Equal(PinValue.High, gpio.Read(ReadyPin));

        var filler = Path.Combine(tmpfs.Folder, "filler");
        TmpfsMount.Fill(filler);
        while (i < 10_000)
        {
            var (record, ok) = Run(engine, ++i);
            stored.Add(record.Sequence); // refused or not: the refused one is held and stored once the disk has room
            if (!ok) break;
        }
        Assert.False(engine.StoreWritable);
        Assert.False(ready.Update());
        Assert.Equal(PinValue.Low, gpio.Read(ReadyPin));

        // While the store refuses records a good part is not passed as good: fail-safe NG, rejected, counted.
        var rejectsBefore = outputs.Rejects;
        var (refused, refusedStored) = Run(engine, ++i);
        Assert.False(refusedStored);
        stored.Add(refused.Sequence);
        Assert.Equal(2, engine.UnstoredRecords);
        Assert.Equal(VerdictSource.FailSafe, refused.VerdictSource);
        Assert.Equal(Verdict.Ng, refused.Verdict);
        Assert.StartsWith("store not writable", refused.FailReason);
        Assert.Equal(rejectsBefore + 1, outputs.Rejects);
        Assert.Equal(1, engine.Counters.StoreFailSafe);
        Assert.True(engine.Counters.StoreFailures >= 2);

        File.Delete(filler);
        _time.Advance(LiteDbInspectionStore.WriteRetryInterval);
        // The parts the store refused are stored first, as they were decided, then this one: decided while the store
        // was still marked unwritable, it is the fail-safe record it is.
        var (recovered, recoveredStored) = Run(engine, ++i);
        Assert.Equal(0, engine.UnstoredRecords);
        Assert.True(recoveredStored);
        Assert.Equal(VerdictSource.FailSafe, recovered.VerdictSource);
        stored.Add(recovered.Sequence);
        Assert.True(engine.StoreWritable);
        Assert.True(ready.Update());
        Assert.Equal(PinValue.High, gpio.Read(ReadyPin));
        var (normal, normalStored) = Run(engine, ++i);
        Assert.True(normalStored);
        Assert.Equal(VerdictSource.Model, normal.VerdictSource);
        stored.Add(normal.Sequence);

        Assert.Equal(stored, store.Records().Select(r => r.Sequence));
    }

    [Fact]
    public async Task ExecuteAsync_Stopped_ReadyOutputInactiveAtItsActiveLowLevel()
    {
        using var store = new InMemoryInspectionStore();
        var modes = new ModeController(store, new AutomationGate(new GateOptions()), _time);
        var engine = new StationEngine(new StationOptions(), new InspectorHost(new OkInspector()), modes, store, new SimulatedStationOutputs(), null, _time);
        using var gpio = new GpioController(new SimulatedGpioDriver());
        using var ready = new StationReadyOutput(gpio, ReadyPin, activeLow: true, engine, TimeSpan.FromSeconds(5), _time, NullLogger<StationReadyOutput>.Instance);
        Assert.Equal(PinValue.High, gpio.Read(ReadyPin)); // inactive until the first check

        await ready.StartAsync(CancellationToken.None);
        // ExecuteAsync runs on the thread pool: its first check comes right after the start.
        Assert.True(SpinWait.SpinUntil(() => ready.Ready, TimeSpan.FromSeconds(10)));
        Assert.Equal(PinValue.Low, gpio.Read(ReadyPin));
        await ready.StopAsync(CancellationToken.None);
        Assert.False(ready.Ready);
        Assert.Equal(PinValue.High, gpio.Read(ReadyPin));
    }
}
