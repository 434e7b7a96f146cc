using System.Device.Gpio;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Core.Storage;
using EdgeInspect.Gpio;
using EdgeInspect.Imaging.OpenCv.Capture;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Io;
using EdgeInspect.Station.Pipeline;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EdgeInspect.Station.Tests.Faults;

/// <summary>Faults on the way of a part (the reject pin, the model, the image, a late trigger): each part still gets a record.</summary>
public sealed class EveryPartRecordedTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ei-faults-").FullName;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>A model that gives one verdict, and throws on the calls whose number is listed.</summary>
    private sealed class FlakyInspector(Verdict verdict, params int[] throwOn) : IInspector
    {
        private int _calls;
        public string ModelName => "flaky";
        public string ModelVersion => "1";
        public InspectionResult Inspect(Frame frame) => throwOn.Contains(++_calls)
            ? throw new InvalidOperationException("onnxruntime: CUDA failure 700")
            : new InspectionResult([], verdict, 0.99f, verdict == Verdict.Ok ? "ok" : "scratch", new Dictionary<string, double>());
        public void Dispose() { }
    }

    private StationEngine Engine(InMemoryInspectionStore store, AutomationMode mode, IInspector inspector, IStationOutputs outputs)
    {
        var s = store.LoadState(); s.Mode = mode; store.SaveState(s);
        var modes = new ModeController(store, new AutomationGate(new GateOptions()), _time);
        return new StationEngine(new StationOptions(), new InspectorHost(inspector), modes, store, outputs, null, _time);
    }

    private static Frame Part(int i) => new(new ImageBuffer(64, 48), i, DateTimeOffset.UnixEpoch, $"p{i}");

    [Fact]
    public void Process_RejectPinWriteFails_NgPartRecordedFailSafeWithReasonAndCounted()
    {
        var driver = new FailingWriteGpioDriver();
        using var gpio = new GpioController(driver);
        using var outputs = new GpioStationOutputs(gpio, rejectPin: 17, lightPin: 27, TimeSpan.FromMilliseconds(50), _time);
        using var store = new InMemoryInspectionStore();
        var engine = Engine(store, AutomationMode.Full, new FlakyInspector(Verdict.Ng), outputs);
        driver.FailWrites = true;

        var records = Enumerable.Range(1, 5).Select(i => { using var f = Part(i); return engine.Process(f); }).ToList();

        var ng = records.Where(r => r.ModelVerdict == Verdict.Ng).ToList();
        Assert.Equal(5, ng.Count);
        Assert.All(ng, r => Assert.Equal(VerdictSource.FailSafe, r.VerdictSource));
        Assert.All(ng, r => Assert.StartsWith("reject output failed: GPIO 17", r.FailReason));
        Assert.All(ng, r => Assert.Equal(Verdict.Ng, r.Verdict));
        Assert.Equal(ng.Count, engine.Counters.RejectFailures);
        Assert.Equal(0, engine.Counters.RejectsFired);
        Assert.Equal(5, store.Records().Count());
    }

    [Fact]
    public void Process_ModelThrowsOnSecondPart_ThatPartFailsSafeAndTheNextIsInspected()
    {
        using var store = new InMemoryInspectionStore();
        var outputs = new SimulatedStationOutputs();
        var engine = Engine(store, AutomationMode.Full, new FlakyInspector(Verdict.Ok, 2), outputs);

        var records = Enumerable.Range(1, 3).Select(i => { using var f = Part(i); return engine.Process(f); }).ToList();

        Assert.Equal([VerdictSource.Model, VerdictSource.FailSafe, VerdictSource.Model], records.Select(r => r.VerdictSource));
        Assert.Equal("model failed: onnxruntime: CUDA failure 700", records[1].FailReason);
        Assert.Equal(Verdict.Ng, records[1].Verdict);
        Assert.Equal(1, engine.Counters.ModelFailures);
        Assert.True(outputs.Rejects >= 1); // the fail-safe part is pushed off in full mode
        Assert.Equal([1L, 2L, 3L], records.Select(r => r.Sequence));
    }

    [Fact]
    public void Process_FrameWithFault_FailSafeWithTheReasonAndTheModelNotRun()
    {
        using var store = new InMemoryInspectionStore();
        var inspector = new FlakyInspector(Verdict.Ok, 1); // would throw if it were asked
        var engine = Engine(store, AutomationMode.Shadow, inspector, new SimulatedStationOutputs());

        using var frame = Frame.Faulted(1, DateTimeOffset.UnixEpoch, "bad.png", "not a readable image: bad.png");
        var record = engine.Process(frame);

        Assert.Equal(VerdictSource.FailSafe, record.VerdictSource);
        Assert.Equal("not a readable image: bad.png", record.FailReason);
        Assert.Null(record.ModelVerdict);
        Assert.Equal(1, engine.Counters.ImageFailures);
        Assert.Equal(0, engine.Counters.ModelFailures);
    }

    [Fact]
    public async Task ReadAsync_UnreadablePngInFolder_FaultedFrameForItThenTheNextImage()
    {
        using (var image = new ImageBuffer(32, 24)) ImageFiles.Write(Path.Combine(_dir, "a.png"), image);
        File.WriteAllBytes(Path.Combine(_dir, "b.png"), [0x89, 0x50, 0x4E, 0x47, 1, 2, 3, 4, 5]); // a PNG signature, then garbage
        using (var image = new ImageBuffer(32, 24)) ImageFiles.Write(Path.Combine(_dir, "c.png"), image);
        using var source = new FolderReplaySource(_dir, TimeSpan.Zero, time: _time);

        var frames = new List<Frame>();
        while (await source.ReadAsync(CancellationToken.None) is { } f) frames.Add(f);

        Assert.Equal(["a.png", "b.png", "c.png"], frames.Select(f => f.PartId));
        Assert.Equal([false, true, false], frames.Select(f => f.Fault is not null));
        Assert.StartsWith("not a readable image", frames[1].Fault);
        Assert.Equal(32, frames[2].Image.Width);
        foreach (var f in frames) f.Dispose();
    }

    [Fact]
    public async Task ReadAsync_FrameLaterThanMaxTriggerAge_PartGetsNoFrameAndTheFrameGoesToTheNextPart()
    {
        var t0 = _time.GetUtcNow();
        var driver = new SimulatedGpioDriver();
        using var gpio = new GpioController(driver);
        // The camera's only frames come 300 ms after the first part's edge and later: the first part was never seen.
        var camera = new StampedCamera([t0.AddMilliseconds(340), t0.AddMilliseconds(360)]);
        using var source = new PartPresentTrigger(camera, gpio, 22, TimeSpan.FromMilliseconds(20), _time, TimeSpan.FromMilliseconds(100));

        var first = source.ReadAsync(CancellationToken.None).AsTask();
        driver.SetInput(22, PinValue.High); // part 1 at 0 ms, settles at 20 ms
        _time.Advance(TimeSpan.FromMilliseconds(20));
        // Served at once, on the fake clock's 20 ms: the camera's first frame (340 ms) is too late for it.
        using var part1 = await first.WaitAsync(TimeSpan.FromSeconds(5));
        driver.SetInput(22, PinValue.Low);
        _time.Advance(TimeSpan.FromMilliseconds(280));
        driver.SetInput(22, PinValue.High); // part 2 at 300 ms, settles at 320 ms
        _time.Advance(TimeSpan.FromMilliseconds(20));

        using var part2 = await source.ReadAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(5));

        Assert.Equal("part-1", part1!.PartId);
        Assert.StartsWith("no frame within 100 ms", part1.Fault);
        Assert.Equal("part-2", part2!.PartId);
        Assert.Null(part2.Fault);
        Assert.Equal(t0.AddMilliseconds(340), part2.CapturedAt);
    }

    /// <summary>A camera whose queued frames carry the capture times given.</summary>
    private sealed class StampedCamera(IEnumerable<DateTimeOffset> stamps) : IFrameSource
    {
        private readonly Queue<DateTimeOffset> _stamps = new(stamps);
        private long _seq;
        public string Name => "stamped";
        public bool Triggered => false;
        public ValueTask<Frame?> ReadAsync(CancellationToken cancellationToken) =>
            ValueTask.FromResult(_stamps.TryDequeue(out var at) ? new Frame(new ImageBuffer(8, 8), _seq++, at) : null);
        public void Dispose() { }
    }
}
