using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;
using EdgeInspect.Imaging.OpenCv;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Capture;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Station.VirtualLine;
using EdgeInspect.Storage.LiteDb;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using OpenCvSharp;
using Xunit;

namespace EdgeInspect.Station.Tests.Capture;

public sealed class PartImageCaptureTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ei-capture-").FullName;
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 2, 8, 0, 0, TimeSpan.Zero));

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private StationEngine Engine(IInspectionStore store, PartImageCapture capture, double humanAccuracy = 0.6)
    {
        var s = store.LoadState(); s.Mode = AutomationMode.Shadow; store.SaveState(s);
        var modes = new ModeController(store, new AutomationGate(new GateOptions { MinPairedParts = 50, MinAgreementLowerBound = 0.8 }), _time);
        return new StationEngine(new StationOptions(), new InspectorHost(new SimulatedModelInspector(0.95)), modes, store, new SimulatedStationOutputs(),
            new SimulatedHumanInspector(new HumanInspectorOptions { Accuracy = humanAccuracy }), _time, capture: capture);
    }

    private List<InspectionRecord> Run(StationEngine engine, int parts, int seed = 4)
    {
        var source = new VirtualLineSource(new PartRenderer(new PartRendererOptions { Seed = seed, DefectRate = 0.4 }), TimeSpan.Zero, _time, parts);
        var records = new List<InspectionRecord>();
        while (source.ReadAsync(CancellationToken.None).AsTask().Result is { } frame)
        {
            using (frame) records.Add(engine.Process(frame));
        }
        return records;
    }

    private static CaptureOptions DisagreementsOnly(int queue = 8) =>
        new() { Enabled = true, AgreedSampleRate = 0, LowConfidenceBelow = 0, FailSafe = false, QueueCapacity = queue, Seed = 1 };

    [Fact]
    public async Task Commit_ShadowWithDisagreeingInspector_EveryDisagreementKeptAsJpegTheRecordNames()
    {
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(_dir, "s.db") }, _time);
        var capture = new PartImageCapture(DisagreementsOnly(queue: 64));
        var folder = new PartImageFolder(Path.Combine(_dir, "images"));
        var writer = new PartImageWriter(capture, folder, new OpenCvJpegEncoder(), NullLogger<PartImageWriter>.Instance);
        await writer.StartAsync(CancellationToken.None);
        var records = Run(Engine(store, capture), 60);
        await writer.StopAsync(CancellationToken.None);

        var disagreements = records.Where(r => r.Agreement == false).ToList();
        Assert.True(disagreements.Count >= 10, $"only {disagreements.Count} disagreements: the inspector should disagree often");
        Assert.All(records.Where(r => r.Agreement != false), r => Assert.Null(r.ImageRef));
        var stored = store.Records().ToDictionary(r => r.Sequence);
        var images = folder.All();
        Assert.Equal(disagreements.Count, images.Count);
        Assert.Equal(disagreements.Count, writer.Written);
        foreach (var r in disagreements)
        {
            // The stored record, not only the one in memory, names its image.
            Assert.Equal(r.ImageRef, stored[r.Sequence].ImageRef);
            var image = Assert.Single(images, i => i.Sequence == r.Sequence);
            Assert.Equal("disagreement", image.Reason);
            Assert.Equal(store.Epoch, image.Epoch);
            Assert.EndsWith(r.ImageRef!, image.Path, StringComparison.Ordinal);
            using var decoded = Cv2.ImRead(image.Path);
            Assert.Equal((320, 240), (decoded.Width, decoded.Height));
        }
    }

    [Fact]
    public void Commit_EncodeQueueFull_PartsDroppedAndCountedLineNeverWaits()
    {
        var store = new InMemoryInspectionStore();
        var capture = new PartImageCapture(DisagreementsOnly(queue: 2));
        // No writer runs: the queue fills after two images and nothing empties it.
        var records = Run(Engine(store, capture), 60);

        var disagreements = records.Count(r => r.Agreement == false);
        Assert.Equal(60, records.Count);
        Assert.Equal(2, records.Count(r => r.ImageRef is not null));
        Assert.Equal(disagreements, capture.Selected);
        Assert.Equal(disagreements - 2, capture.DroppedQueueFull);
    }

    [Fact]
    public async Task CommitFailed_StoreRefusesTheGroup_PlaceInTheQueueGivenBack()
    {
        var store = new InMemoryInspectionStore();
        var capture = new PartImageCapture(DisagreementsOnly(queue: 1));
        var engine = Engine(store, capture, humanAccuracy: 0);
        var source = new VirtualLineSource(new PartRenderer(new PartRendererOptions { Seed = 4 }), TimeSpan.Zero, _time, 1);
        using var frame = (await source.ReadAsync(CancellationToken.None))!;
        var part = engine.Decide(frame);
        part.Record.ImageRef = capture.Reserve(frame, part.Record);
        Assert.NotNull(part.Record.ImageRef);
        engine.CommitFailed([part], new IOException("disk full"));
        Assert.NotNull(capture.Reserve(frame, part.Record)); // the one place is free again
    }

    [Fact]
    public void Enforce_FolderOverItsLimit_SamplesGoFirstDisagreementsLast()
    {
        var folder = new PartImageFolder(Path.Combine(_dir, "images"));
        var jpeg = new byte[100 * 1024];
        var t0 = _time.GetUtcNow();
        // Oldest first within a reason: the old disagreement outlives every newer sample.
        folder.Write("e1", PartImageName.Format(1, CaptureReason.Disagreement, t0), jpeg);
        for (var i = 2; i <= 6; i++) folder.Write("e1", PartImageName.Format(i, CaptureReason.Sample, t0.AddSeconds(i)), jpeg);
        folder.Write("e1", PartImageName.Format(7, CaptureReason.LowConfidence, t0.AddSeconds(7)), jpeg);
        folder.Write("e1", PartImageName.Format(8, CaptureReason.FailSafe, t0.AddSeconds(8)), jpeg);

        var deleted = folder.Enforce(maxBytes: 4 * 100 * 1024);

        var left = folder.All().Select(i => i.Reason).Order().ToArray();
        Assert.Equal(5, deleted);
        Assert.Equal(["disagreement", "failsafe", "lowconfidence"], left);
        Assert.Equal(5, folder.Evicted["sample"]);
        Assert.Equal("disagreement", folder.Pending(1)[0].Reason); // the uplink sends the most valuable first
    }

    [Fact]
    public void Store_WithImageFolder_ImagesCountAgainstItsDiskBudget()
    {
        var images = Path.Combine(_dir, "images");
        new PartImageFolder(images).Write("e1", PartImageName.Format(1, CaptureReason.Sample, _time.GetUtcNow()), new byte[300_000]);
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = Path.Combine(_dir, "b.db"), BudgetBytes = 4 << 20, ImageFolder = images }, _time);
        Assert.True(store.Statistics().SpoolBytes >= 300_000, $"the store counts {store.Statistics().SpoolBytes} sidecar bytes");
    }

    [Theory]
    [InlineData(0, 1L << 20, "Capture:JpegQuality")]
    [InlineData(90, 1000L, "Capture:MaxBytes")]
    [InlineData(90, 64L << 20, "Capture:MaxBytes")] // more than half of the store's 100 MiB budget
    public void Validate_BadValue_NamesTheKey(int quality, long maxBytes, string key)
    {
        var options = new CaptureOptions { Enabled = true, JpegQuality = quality, MaxBytes = maxBytes };
        var e = Assert.ThrowsAny<Exception>(() => options.Validate(storeBudgetBytes: 100L << 20));
        Assert.Contains(key, e.Message, StringComparison.Ordinal);
    }
}
