using System.Diagnostics;
using System.Xml.Linq;
using EdgeInspect.Cloud.Ingest.Images;
using EdgeInspect.Cloud.Tests.Ingest;
using EdgeInspect.TestSupport;
using Xunit;
using static EdgeInspect.Cloud.Tests.Ingest.IngestTesting;
using static EdgeInspect.TestSupport.Poll;

namespace EdgeInspect.Cloud.Tests.Loop;

/// <summary>
/// The improvement loop from a running station to a dataset: the real <c>edgeinspect run</c> (shipped model, virtual
/// line, an inspector who disagrees often, capture on) over a real Mosquitto to the ingest and PostgreSQL, then
/// <c>dataset export</c>. Not covered here yet: the fine-tune from the export, the push and the candidate's trial.
/// </summary>
public sealed class ImprovementLoopTests(PostgresFixture pg) : IClassFixture<PostgresFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-loop-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    [Trait(TestCategories.Name, TestCategories.Slow)]
    [PostgresFact]
    public async Task Loop_ShadowStationWithDisagreeingInspector_DisagreementImagesReachTheIngestAndExportAsVoc()
    {
        await using var broker = await MosquittoBroker.LaunchAsync();
        var cs = await pg.Cluster!.CreateDatabaseAsync("t" + Guid.NewGuid().ToString("N")[..12]);
        var options = Options(cs, broker);
        var (worker, db) = await StartWorkerAsync(options);
        await using var _ = db;
        var root = Path.Combine(_dir, "cloud-images");
        using var intake = new PartImageIntake(options, new ImageStorageOptions { Root = root }, worker, db);
        await intake.StartAsync(CancellationToken.None);

        var package = Path.Combine(RepoPaths.Root, "models", "virtual-line").Replace("\\", "/", StringComparison.Ordinal);
        var profile = Path.Combine(_dir, "station.json");
        await File.WriteAllTextAsync(profile, $$"""
            {
              "Device": { "Id": "loop-001", "Station": "station-1" },
              "Source": { "Kind": "virtual-line", "Seed": 5, "IntervalMs": 50, "DefectRate": 0.4 },
              "HumanInspector": { "Accuracy": 0.6, "MeanDelayMs": 10, "Seed": 11 },
              "Automation": { "InitialMode": "shadow" },
              "Store": { "Path": "{{Path.Combine(_dir, "ei.db")}}", "BudgetBytes": 67108864 },
              "Model": { "Package": "{{package}}" },
              "Gpio": { "Driver": "simulated", "ModeKeySwitch": false },
              "Uplink": { "Host": "{{broker.Host}}", "Port": {{broker.Port}}, "Delivery": "ingest-ack" },
              "Capture": { "Enabled": true, "AgreedSampleRate": 0, "LowConfidenceBelow": 0, "MaxBytes": 16777216 },
              "ImageUplink": { "PollSeconds": 0.2 }
            }
            """);
        using var station = EdgeInspectProcess.Start("run", "--profile", profile);
        var stdout = station.StandardOutput.ReadToEndAsync();
        var stderr = station.StandardError.ReadToEndAsync();
        try
        {
            await Until(() => intake.Stored >= 8 || station.HasExited, TimeSpan.FromSeconds(120), "eight part images stored by the ingest");
            if (station.HasExited) Assert.Fail($"the station exited {station.ExitCode}: {await stderr}");
        }
        finally
        {
            if (!station.HasExited) await EdgeInspectProcess.TerminateAsync(station);
            if (!station.WaitForExit(TimeSpan.FromSeconds(60))) station.Kill(true);
        }
        Assert.True(station.ExitCode == 0, $"exit {station.ExitCode}\n{await stdout}\n{await stderr}");
        // The station's records arrive through their own outbox; give the last ones a moment before the export joins them.
        for (var i = 0; i < 100 && (await CountAsync(cs, "loop-001")).Rows == 0; i++) await Task.Delay(100);
        await intake.StopAsync(CancellationToken.None);
        await worker.StopAsync(CancellationToken.None);
        worker.Dispose();

        await using (var cmd = db.CreateCommand("SELECT count(*) FROM part_images WHERE device_id = 'loop-001' AND reason <> 'disagreement'"))
        {
            Assert.Equal(0L, await cmd.ExecuteScalarAsync()); // only disagreements were asked for
        }
        var outDir = Path.Combine(_dir, "voc");
        Assert.Equal(0, await CloudCli.RunAsync(["dataset", "export", "--since", "1d", "--kind", "disagreement", "--out", outDir,
            "--Ingest:ConnectionString", cs, "--Ingest:Images:Root", root]));
        var annotations = Directory.GetFiles(Path.Combine(outDir, "annotations"), "*.xml");
        Assert.True(annotations.Length >= 4, $"{annotations.Length} annotated images exported");
        foreach (var file in annotations)
        {
            var a = XDocument.Load(file).Root!;
            // A disagreement: the human's label and the model's verdict differ, and the image is the station's frame.
            Assert.NotEqual(a.Element("label")!.Value, a.Element("modelVerdict")!.Value);
            Assert.Equal("320", a.Element("size")!.Element("width")!.Value);
            Assert.StartsWith("virtual-line ", a.Element("source")!.Element("model")!.Value, StringComparison.Ordinal);
        }
    }
}
