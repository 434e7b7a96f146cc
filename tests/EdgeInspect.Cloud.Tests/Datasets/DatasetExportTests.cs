using System.Diagnostics;
using System.Text.Json;
using System.Xml.Linq;
using EdgeInspect.Cloud.Datasets;
using EdgeInspect.Cloud.Ingest.Images;
using EdgeInspect.Cloud.Tests.Ingest;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Geometry;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Imaging.OpenCv;
using EdgeInspect.Station.Capture;
using EdgeInspect.Sync.Mqtt;
using EdgeInspect.Sync.Mqtt.Images;
using EdgeInspect.TestSupport;
using Xunit;
using static EdgeInspect.Cloud.Tests.Ingest.IngestTesting;
using static EdgeInspect.TestSupport.Poll;

namespace EdgeInspect.Cloud.Tests.Datasets;

/// <summary>
/// Records and their kept images through a real Mosquitto into a real PostgreSQL and image root, then
/// <c>edgeinspect-cloud dataset export</c> and the trainer's own VOC reader on what it wrote.
/// </summary>
public sealed class DatasetExportTests(PostgresFixture pg) : IClassFixture<PostgresFixture>, IDisposable
{
    private static readonly DateTimeOffset At = DateTimeOffset.UtcNow.AddMinutes(-5);
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-dataset-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static InspectionRecord Record(string device, long seq, Verdict human, string? humanClass, Verdict model, params BoxF[] boxes) => new()
    {
        DeviceId = device, Station = "st-1", Sequence = seq, CapturedAt = At.AddSeconds(seq), DecidedAt = At.AddSeconds(seq), Mode = AutomationMode.Shadow,
        ModelName = "defects", ModelVersion = "3", Verdict = human, VerdictSource = VerdictSource.Human, HumanVerdict = human, HumanClass = humanClass,
        ModelVerdict = model, ModelConfidence = 0.9f, ModelClass = model == Verdict.Ng ? "dent" : "ok",
        Regions = [.. boxes.Select(b => new Region(b, 0.8f) { ClassName = "dent", ClassConfidence = 0.8f })],
    };

    private static byte[] Jpeg(BoxF? defect)
    {
        using var image = new ImageBuffer(160, 120);
        image.Pixels.Fill(170);
        if (defect is { } d)
        {
            for (var y = (int)d.Y1; y < (int)d.Y2; y++)
                image.Pixels.Slice(y * image.Stride + (int)d.X1 * 3, ((int)d.X2 - (int)d.X1) * 3).Fill(40);
        }
        return new OpenCvJpegEncoder().Encode(image, 90);
    }

    [PostgresFact]
    public async Task Export_ImagesAtTheIngest_VocSetHumanLabelsModelBoxesAsPrelabelsTrainerReadsIt()
    {
        await using var broker = await MosquittoBroker.LaunchAsync();
        var cs = await pg.Cluster!.CreateDatabaseAsync("t" + Guid.NewGuid().ToString("N")[..12]);
        var options = Options(cs, broker);
        var (worker, db) = await StartWorkerAsync(options);
        await using var _ = db;
        var root = Path.Combine(_dir, "cloud-images");
        using var intake = new PartImageIntake(options, new ImageStorageOptions { Root = root }, worker, db);
        await intake.StartAsync(CancellationToken.None);

        // The device: its records through the real outbox (acknowledged by the ingest), its images through the real upload.
        await using var station = new SimulatedStation(_dir, broker.Host, broker.Port, "dev-x");
        await station.StartAsync();
        var box = new BoxF(30, 20, 70, 50);
        var kept = new (InspectionRecord Record, CaptureReason Reason, BoxF? Drawn)[]
        {
            (Record("dev-x", 1, Verdict.Ng, "scratch", Verdict.Ng, box), CaptureReason.LowConfidence, box),    // failed by both, the model's box: trainable
            (Record("dev-x", 2, Verdict.Ok, null, Verdict.Ng, box), CaptureReason.Disagreement, null),         // a false alarm: a negative, box kept as prelabel
            (Record("dev-x", 3, Verdict.Ng, "scratch", Verdict.Ok), CaptureReason.Disagreement, box),          // missed, no box to train on: review
            (Record("dev-x", 4, Verdict.Ng, "dent", Verdict.Ok, box), CaptureReason.Disagreement, box),        // missed, but a weak box was there
            (Record("dev-x", 5, Verdict.Ok, null, Verdict.Ok), CaptureReason.Sample, null),                    // agreed sample
        };
        var folder = new PartImageFolder(Path.Combine(_dir, "device-images"));
        foreach (var (record, reason, drawn) in kept)
        {
            station.Store.Append(record);
            folder.Write(record.StoreEpoch, PartImageName.Format(record.Sequence, reason, record.CapturedAt), Jpeg(drawn));
        }
        await Until(() => station.Store.PendingCount == 0, TimeSpan.FromSeconds(30), "records acknowledged by the ingest");
        using var uplink = new PartImageUplink(folder, station.Connection, new ImageUplinkOptions { PollSeconds = 0.2, AckTimeoutSeconds = 2 });
        await uplink.StartAsync(CancellationToken.None);
        await Until(() => folder.All().Count == 0, TimeSpan.FromSeconds(30), "images stored by the ingest");
        await uplink.StopAsync(CancellationToken.None);
        await intake.StopAsync(CancellationToken.None);
        await worker.StopAsync(CancellationToken.None);
        worker.Dispose();

        var outDir = Path.Combine(_dir, "voc");
        var rc = await CloudCli.RunAsync(["dataset", "export", "--since", "1d", "--kind", "disagreement", "--out", outDir,
            "--Ingest:ConnectionString", cs, "--Ingest:Images:Root", root]);

        Assert.Equal(0, rc);
        var epoch = station.Store.Epoch;
        string Stem(long seq) => $"dev-x_{epoch}_{seq}";
        // disagreement: parts 2, 3 and 4 (1 was kept for low confidence, 5 as a sample)
        Assert.Equal([Stem(2), Stem(3), Stem(4)], Directory.GetFiles(Path.Combine(outDir, "images")).Select(Path.GetFileNameWithoutExtension).Order());
        var two = XDocument.Load(Path.Combine(outDir, "annotations", Stem(2) + ".xml")).Root!;
        Assert.Equal("ok", two.Element("label")!.Value);
        Assert.Empty(two.Elements("object"));
        Assert.Single(two.Element("prelabels")!.Elements("object"));
        var four = XDocument.Load(Path.Combine(outDir, "annotations", Stem(4) + ".xml")).Root!;
        Assert.Equal("ng", four.Element("label")!.Value);
        var obj = Assert.Single(four.Elements("object"));
        Assert.Equal("dent", obj.Element("name")!.Value);
        Assert.Equal("model", obj.Element("prelabel")!.Value);
        Assert.Equal(("160", "120"), (four.Element("size")!.Element("width")!.Value, four.Element("size")!.Element("height")!.Value));
        Assert.Equal([Stem(3) + ".jpg"], await File.ReadAllLinesAsync(Path.Combine(outDir, "review.txt")));
        var split = (await File.ReadAllLinesAsync(Path.Combine(outDir, "train.txt"))).Concat(await File.ReadAllLinesAsync(Path.Combine(outDir, "val.txt")));
        Assert.Equal([Stem(2) + ".jpg", Stem(4) + ".jpg"], split.Order());

        var all = Path.Combine(_dir, "voc-all");
        Assert.Equal(0, await CloudCli.RunAsync(["dataset", "export", "--since", At.AddMinutes(-1).ToString("O"), "--kind", "all", "--out", all,
            "--Ingest:ConnectionString", cs, "--Ingest:Images:Root", root]));
        Assert.Equal(5, Directory.GetFiles(Path.Combine(all, "images")).Length);

        if (TrainingPython.MissingReason is null)
        {
            // The trainer's own reader: every listed image with its boxes and classes.
            var script = "import sys, json; sys.path.insert(0, sys.argv[1]); from eitrain import data; " +
                "items = data.read_voc(sys.argv[2], sys.argv[3]) + data.read_voc(sys.argv[2], sys.argv[4]); " +
                "print(json.dumps(sorted([[p.split('/')[-1], len(b), c] for p, b, c in items])))";
            var psi = new ProcessStartInfo(TrainingPython.Path, ["-c", script, Path.Combine(RepoPaths.Root, "tools", "train"), all,
                Path.Combine(all, "train.txt"), Path.Combine(all, "val.txt")]) { RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            var stdout = await p.StandardOutput.ReadToEndAsync();
            await p.WaitForExitAsync();
            Assert.True(p.ExitCode == 0, await p.StandardError.ReadToEndAsync());
            var items = JsonSerializer.Deserialize<JsonElement[][]>(stdout)!;
            // 1 (ng, one box), 2 (ok, none), 4 (ng, one box), 5 (ok, none); 3 awaits review
            Assert.Equal([Stem(1) + ".jpg", Stem(2) + ".jpg", Stem(4) + ".jpg", Stem(5) + ".jpg"], items.Select(i => i[0].GetString()!));
            Assert.Equal([1, 0, 1, 0], items.Select(i => i[1].GetInt32()));
            Assert.Equal("scratch", items[0][2][0].GetString());
        }
    }

    [Theory]
    [InlineData("7d", "2026-11-25T12:00:00+00:00")]
    [InlineData("12h", "2026-12-02T00:00:00+00:00")]
    [InlineData("2026-12-01", "2026-12-01T00:00:00+00:00")]
    [InlineData("2026-12-01T08:00+02:00", "2026-12-01T06:00:00+00:00")]
    public void ParseSince_DateOrAge_AbsoluteUtc(string value, string expected)
    {
        var now = new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);
        Assert.Equal(DateTimeOffset.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), DatasetExportCommand.ParseSince(value, now));
    }

    [Fact]
    public async Task Export_OutFolderNotEmpty_RefusedSayingWhy()
    {
        var outDir = Path.Combine(_dir, "used");
        Directory.CreateDirectory(outDir);
        await File.WriteAllTextAsync(Path.Combine(outDir, "x.txt"), "earlier export");
        var error = new StringWriter();
        var was = Console.Error;
        Console.SetError(error);
        try
        {
            Assert.Equal(CloudCli.BadInput, await CloudCli.RunAsync(["dataset", "export", "--since", "1d", "--out", outDir,
                "--Ingest:ConnectionString", "Host=127.0.0.1;Port=1"]));
        }
        finally { Console.SetError(was); }
        Assert.Contains("is not empty", error.ToString(), StringComparison.Ordinal);
    }
}
