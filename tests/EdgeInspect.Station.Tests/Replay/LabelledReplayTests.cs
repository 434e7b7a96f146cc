using System.Diagnostics;
using EdgeInspect.Core.Domain;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Station.Tests.Replay;

/// <summary>
/// A recorded, labelled folder replayed through the real `edgeinspect run` in shadow mode with HumanInspector:Kind
/// "labels": every part is paired with its label's verdict, so the shadow report measures the model against the labels.
/// </summary>
public sealed class LabelledReplayTests : IDisposable
{
    private static readonly string[] NeuClasses = ["crazing", "inclusion", "patches", "pitted_surface", "rolled-in_scale", "scratches"];
    private readonly string _dir = Directory.CreateTempSubdirectory("ei-replay-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string DbPath => Path.Combine(_dir, "ei.db");

    /// <summary>One NEU-DET val image of each class, copied into a folder the station replays.</summary>
    private string NeuImages()
    {
        string neu = RepoPaths.SharedPath("datasets/neu-det");
        string images = Directory.CreateDirectory(Path.Combine(_dir, "images")).FullName;
        foreach (string name in File.ReadLines(Path.Combine(neu, "val.txt"))
                     .Where(n => File.Exists(Path.Combine(neu, "images", n)))
                     .GroupBy(n => n[..n.LastIndexOf('_')]).Select(g => g.First()))
        {
            File.Copy(Path.Combine(neu, "images", name), Path.Combine(images, name));
        }
        return images;
    }

    private string Profile(string images, string labels)
    {
        string path = Path.Combine(_dir, "profile.json");
        File.WriteAllText(path, $$"""
            {
              "Device": { "Id": "test-001", "Station": "station-1" },
              "Source": { "Kind": "folder", "Uri": "{{images}}", "Labels": "{{labels}}", "IntervalMs": 50 },
              "HumanInspector": { "Kind": "labels" },
              "Automation": { "InitialMode": "shadow" },
              "Store": { "Path": "{{DbPath}}" },
              "Model": { "Package": "{{Path.Combine(RepoPaths.Root, "models", "neu-steel")}}" },
              "Web": { "Enabled": false }
            }
            """);
        return path;
    }

    /// <summary>
    /// Runs edgeinspect until a stdout line contains <paramref name="until"/> (or <paramref name="limit"/> passes), then
    /// stops it with SIGTERM as systemd would; a null <paramref name="until"/> waits for the process to exit by itself.
    /// </summary>
    private static async Task<(int Code, string Out, string Err)> RunUntil(string? until, TimeSpan limit, params string[] args)
    {
        using var p = EdgeInspectProcess.Start(args);
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = new System.Text.StringBuilder();
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            while (await p.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                stdout.AppendLine(line);
                if (until is not null && line.Contains(until, StringComparison.Ordinal)) break;
            }
        }
        catch (OperationCanceledException) { } // the limit: stop it and let the assertions say what was missing
        if (!p.HasExited) await EdgeInspectProcess.TerminateAsync(p);
        var rest = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(60))) { p.Kill(true); throw new TimeoutException("edgeinspect did not stop within 60 s of SIGTERM"); }
        return (p.ExitCode, stdout.Append(await rest).ToString(), await stderr);
    }

    [Trait(TestCategories.Name, TestCategories.Slow)]
    [SharedDataTheory("datasets/neu-det")]
    [InlineData("voc")]
    [InlineData("csv")]
    public async Task Run_LabelledReplayInShadowMode_PairsEveryPartWithItsLabelsVerdict(string labelSource)
    {
        string images = NeuImages();
        var files = Directory.GetFiles(images).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList();
        string labels = labelSource == "voc"
            ? RepoPaths.SharedPath("datasets/neu-det/annotations")
            : Path.Combine(_dir, "labels.csv");
        // NEU-DET names each image after its class; the CSV says the same as the annotations, in the other format.
        if (labelSource == "csv") File.WriteAllLines(labels, ["file,label", .. files.Select(f => $"{f},{f[..f.LastIndexOf('_')]}")]);

        // The progress line counts stored parts; the station is stopped once every replayed image is one of them.
        var (code, stdout, stderr) = await RunUntil($"parts {files.Count},", TimeSpan.FromMinutes(3), "run", "--profile", Profile(images, labels));

        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        List<InspectionRecord> records;
        using (var snapshot = LiteDbInspectionStore.OpenSnapshot(DbPath)) records = [.. snapshot.Store.Records()];
        Assert.Equal(files, records.Select(r => r.PartId));
        Assert.All(records, r =>
        {
            string cls = r.PartId![..r.PartId!.LastIndexOf('_')];
            Assert.Contains(cls, NeuClasses);
            Assert.Equal(Verdict.Ng, r.HumanVerdict); // every NEU-DET image carries a defect
            Assert.Equal(cls, r.HumanClass);
            Assert.NotNull(r.ModelVerdict); // shadow: the model ran on every part and was paired
            Assert.Equal(VerdictSource.Human, r.VerdictSource); // shadow: the label decided, not a fail safe after the window
        });

        var (reportCode, report, reportErr) = await RunUntil(null, TimeSpan.FromSeconds(60), "shadow-report", "--db", DbPath);
        Assert.True(reportCode == 0, reportErr);
        Assert.Contains($"paired parts: {files.Count}", report, StringComparison.Ordinal);
    }

    [SharedDataFact("datasets/neu-det")]
    public async Task Run_ReplayImageWithoutLabel_RefusedAtStartNamingSourceLabels()
    {
        string images = NeuImages();
        string csv = Path.Combine(_dir, "labels.csv");
        var files = Directory.GetFiles(images).Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal).ToList();
        File.WriteAllLines(csv, files.Skip(1).Select(f => $"{f},{f[..f.LastIndexOf('_')]}"));

        var (code, stdout, stderr) = await RunUntil(null, TimeSpan.FromSeconds(90), "run", "--profile", Profile(images, csv));

        Assert.True(code == 2, $"exit {code}\n{stdout}\n{stderr}");
        Assert.Contains("Source:Labels", stderr, StringComparison.Ordinal);
        Assert.Contains($"1 of {files.Count} images", stderr, StringComparison.Ordinal);
        Assert.Contains(files[0], stderr, StringComparison.Ordinal);
    }
}
