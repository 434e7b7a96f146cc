using System.Device.Gpio;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Storage;
using EdgeInspect.Gpio;
using EdgeInspect.Imaging.OpenCv.Capture;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Io;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Station.VirtualLine;
using Microsoft.Extensions.Time.Testing;
using OpenCvSharp;
using Xunit;

namespace EdgeInspect.Station.Tests.Io;

public class CaptureSourceTests
{
    /// <summary>A camera that delivers <c>frames</c> frames, then disappears for <c>downOpens</c> open attempts, then comes back.</summary>
    private sealed class ScriptedCamera(int frames, int downOpens) : ICaptureDevice
    {
        private int _delivered, _failedOpens;
        private bool _open;
        public int Opens { get; private set; }
        public string Name => "scripted";
        public bool TryOpen()
        {
            Opens++;
            if (_delivered >= frames && _failedOpens < downOpens) { _failedOpens++; return false; }
            return _open = true;
        }
        public bool TryRead(ImageBuffer target)
        {
            if (!_open) return false;
            if (_delivered == frames && _failedOpens < downOpens) { _open = false; return false; } // unplugged
            target.Reshape(32, 24);
            target.Pixels.Fill((byte)(_delivered++ % 256));
            return true;
        }
        public void Close() => _open = false;
        public void Dispose() { }
    }

    [Fact]
    public async Task ReadAsync_CameraDisappears_ReopensWithBackoffAndReportsOutageOnce()
    {
        var time = new FakeTimeProvider();
        var camera = new ScriptedCamera(frames: 3, downOpens: 4);
        using var source = new VideoCaptureSource(camera, endsAtEndOfStream: false, time) { MinBackoff = TimeSpan.FromMilliseconds(100), MaxBackoff = TimeSpan.FromSeconds(1) };
        var lines = new List<string>();
        source.StatusChanged += lines.Add;
        for (int i = 0; i < 3; i++) using (await source.ReadAsync(CancellationToken.None)) { }

        var pending = source.ReadAsync(CancellationToken.None).AsTask();
        // Four failed opens wait 100, 200, 400, 800 ms (doubling): not back before 1.5 s, back after.
        for (int ms = 0; ms < 1400; ms += 50) time.Advance(TimeSpan.FromMilliseconds(50));
        await Task.Delay(50);
        Assert.False(pending.IsCompleted);
        for (int ms = 0; ms < 300; ms += 50) { time.Advance(TimeSpan.FromMilliseconds(50)); await Task.Delay(5); }
        using var frame = await pending.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.NotNull(frame);
        Assert.Equal(3, frame.Sequence);
        Assert.Equal(1, source.Outages);
        Assert.Equal(2, lines.Count);
        Assert.Contains("reopening with backoff", lines[0]);
        Assert.Contains("back after", lines[1]);
    }

    [Fact]
    public async Task ReadAsync_VideoFile_DeliversEveryFrameThenEnds()
    {
        string dir = Directory.CreateTempSubdirectory("ei-video-").FullName;
        try
        {
            string path = Path.Combine(dir, "clip.avi");
            using (var writer = new VideoWriter(path, FourCC.MJPG, 10, new OpenCvSharp.Size(64, 48)))
            {
                Assert.True(writer.IsOpened(), "OpenCV could not open an MJPG writer");
                for (int i = 0; i < 12; i++)
                {
                    using var mat = new Mat(48, 64, MatType.CV_8UC3, new Scalar(i * 20, 100, 200 - i * 10));
                    writer.Write(mat);
                }
            }
            using var source = VideoCaptureSource.Create(CaptureKind.File, path);
            int n = 0;
            while (await source.ReadAsync(CancellationToken.None) is { } frame)
            {
                using (frame) { Assert.Equal((64, 48), (frame.Image.Width, frame.Image.Height)); n++; }
            }
            Assert.Equal(12, n);
            Assert.False(source.Triggered);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public async Task ReadAsync_MissingVideoFile_RefusesWithThePath()
    {
        using var source = VideoCaptureSource.Create(CaptureKind.File, "/nonexistent/clip.avi");
        var e = await Assert.ThrowsAsync<IOException>(() => source.ReadAsync(CancellationToken.None).AsTask());
        Assert.Contains("/nonexistent/clip.avi", e.Message);
    }

    [Fact]
    public async Task ReadAsync_ImageFolder_ReplaysSortedFilesAsTriggeredParts()
    {
        string dir = Directory.CreateTempSubdirectory("ei-replay-").FullName;
        try
        {
            var renderer = new PartRenderer(new PartRendererOptions { Seed = 3 });
            for (int i = 2; i >= 0; i--)
            {
                using var image = new ImageBuffer(320, 240);
                renderer.Render(i, image);
                ImageFiles.Write(Path.Combine(dir, $"part_{i}.png"), image);
            }
            File.WriteAllText(Path.Combine(dir, "notes.txt"), "not an image");
            using var source = new FolderReplaySource(dir, TimeSpan.Zero, count: 5);
            var ids = new List<string?>();
            while (await source.ReadAsync(CancellationToken.None) is { } frame) using (frame) ids.Add(frame.PartId);
            Assert.Equal(["part_0.png", "part_1.png", "part_2.png", "part_0.png", "part_1.png"], ids);
            Assert.True(source.Triggered);
        }
        finally { Directory.Delete(dir, true); }
    }
}

public class GpioInputTests
{
    private static void Press(SimulatedGpioDriver driver, FakeTimeProvider time, int pin)
    {
        driver.SetInput(pin, PinValue.High);
        time.Advance(TimeSpan.FromMilliseconds(40));
        driver.SetInput(pin, PinValue.Low);
        time.Advance(TimeSpan.FromMilliseconds(40));
    }

    [Fact]
    public void Judge_ButtonsOnSimulatedDriver_PressAfterPartIsItsVerdictAndStalePressesAreDropped()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
        var driver = new SimulatedGpioDriver();
        using var gpio = new GpioController(driver);
        using var buttons = new GpioInspectorButtons(gpio, 17, 27, TimeSpan.FromMilliseconds(20), time);

        Press(driver, time, 27); // a stray defect press before the part arrives
        using var frame = new Frame(new ImageBuffer(8, 8), 0, time.GetUtcNow(), "p1");
        Press(driver, time, 17);
        var press = buttons.Judge(frame, TimeSpan.Zero);
        Assert.NotNull(press);
        Assert.Equal(Verdict.Ok, press.Value.Verdict);

        using var next = new Frame(new ImageBuffer(8, 8), 1, time.GetUtcNow(), "p2");
        Assert.Null(buttons.Judge(next, TimeSpan.Zero)); // nobody pressed for p2 yet
        Press(driver, time, 27);
        var defect = buttons.Judge(next, TimeSpan.Zero);
        Assert.Equal(Verdict.Ng, defect!.Value.Verdict);
        Assert.Equal(GpioInspectorButtons.DefectPressClass, defect.Value.Class);
    }

    [Fact]
    public void Process_ShadowModeWithButtons_NoPressInWindowFailsSafeWithReason()
    {
        var time = new FakeTimeProvider();
        var driver = new SimulatedGpioDriver();
        using var gpio = new GpioController(driver);
        using var buttons = new GpioInspectorButtons(gpio, 17, 27, TimeSpan.FromMilliseconds(20), time);
        var store = new InMemoryInspectionStore();
        var s = store.LoadState(); s.Mode = AutomationMode.Shadow; store.SaveState(s);
        var modes = new ModeController(store, new AutomationGate(new GateOptions()), time);
        var engine = new StationEngine(new StationOptions { HumanWindow = TimeSpan.Zero }, new InspectorHost(new SimulatedModelInspector()), modes, store,
            new SimulatedStationOutputs(), buttons, time);
        using var frame = new Frame(new ImageBuffer(320, 240), 0, time.GetUtcNow(), "p1") { GroundTruth = new PartRenderer(new PartRendererOptions()).Render(0, new ImageBuffer(320, 240)) };
        var record = engine.Process(frame);
        Assert.Equal(VerdictSource.FailSafe, record.VerdictSource);
        Assert.Equal(Verdict.Ng, record.Verdict);
        Assert.Contains("no human verdict", record.FailReason);
    }

    [Fact]
    public void KeySwitch_TurnedThroughPositions_SettledPositionSetsModeThroughGateAndAudits()
    {
        var time = new FakeTimeProvider();
        var driver = new SimulatedGpioDriver();
        using var gpio = new GpioController(driver);
        var store = new InMemoryInspectionStore();
        var s = store.LoadState(); s.Mode = AutomationMode.Shadow; store.SaveState(s);
        var modes = new ModeController(store, new AutomationGate(new GateOptions { MinPairedParts = 100, MinAgreementLowerBound = 0.9 }), time);
        using var key = new ModeKeySwitch(gpio, 5, 6, 13, TimeSpan.FromMilliseconds(30), modes, time);

        // Turning from shadow (2 = B) to assist (3 = A+B) passes through code 1 (human) for a few ms: not applied.
        driver.SetInput(6, PinValue.Low); driver.SetInput(5, PinValue.High);
        time.Advance(TimeSpan.FromMilliseconds(5));
        driver.SetInput(6, PinValue.High);
        time.Advance(TimeSpan.FromMilliseconds(40));
        Assert.Equal(AutomationMode.Assist, modes.Current);

        // Full (5 = A+C) is gated: no shadow evidence yet, so it is refused and audited.
        driver.SetInput(6, PinValue.Low); driver.SetInput(13, PinValue.High);
        time.Advance(TimeSpan.FromMilliseconds(40));
        Assert.Equal(AutomationMode.Assist, modes.Current);
        Assert.Contains("refused", key.LastOutcome);
        var audits = store.AuditEvents().Where(a => a.Actor == "key-switch").ToList();
        Assert.Equal(2, audits.Count);
        Assert.DoesNotContain(audits, a => a.To == "human");
    }
}

public class PartPresentTriggerTests
{
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

    [Fact]
    public async Task ReadAsync_SensorEdges_OneTriggeredFramePerPartAtOrAfterItsEdge()
    {
        var t0 = new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);
        var time = new FakeTimeProvider(t0);
        var driver = new SimulatedGpioDriver();
        using var gpio = new GpioController(driver);
        var stamps = new[] { 10, 30, 50, 70, 90, 130, 150, 170 }.Select(ms => t0.AddMilliseconds(ms));
        using var source = new PartPresentTrigger(new StampedCamera(stamps), gpio, 22, TimeSpan.FromMilliseconds(20), time);
        Assert.True(source.Triggered);

        var first = source.ReadAsync(CancellationToken.None).AsTask();
        Assert.False(first.IsCompleted); // no part yet: no frame, however many the camera has
        time.Advance(TimeSpan.FromMilliseconds(20));
        driver.SetInput(22, PinValue.High); // part arrives at 20 ms, settles at 40 ms
        time.Advance(TimeSpan.FromMilliseconds(20));
        using (var frame = await first.WaitAsync(TimeSpan.FromSeconds(5)))
        {
            Assert.Equal("part-1", frame!.PartId);
            Assert.Equal(t0.AddMilliseconds(50), frame.CapturedAt); // 10 and 30 ms showed the empty belt
        }

        driver.SetInput(22, PinValue.Low);
        time.Advance(TimeSpan.FromMilliseconds(60)); // 100 ms
        driver.SetInput(22, PinValue.High);
        time.Advance(TimeSpan.FromMilliseconds(25)); // settles at 120 ms
        using var second = await source.ReadAsync(CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Equal("part-2", second!.PartId);
        Assert.Equal(t0.AddMilliseconds(130), second.CapturedAt);
    }
}
