using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Imaging.OpenCv.Capture;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Station.Tests.Cli;

/// <summary>The real `edgeinspect run` as a child process, with a fault planted: the exit code and the store say what happened.</summary>
public sealed class RunVerbFaultTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ei-runfault-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string DbPath => Path.Combine(_dir, "ei.db");

    private string Profile(string source)
    {
        string path = Path.Combine(_dir, "profile.json");
        string package = Path.Combine(RepoPaths.Root, "models", "virtual-line");
        File.WriteAllText(path, $$"""
            {
              "Device": { "Id": "test-001", "Station": "station-1" },
              "Source": {{source}},
              "Automation": { "InitialMode": "full", "AuditSampleRate": 0 },
              "Store": { "Path": "{{DbPath}}" },
              "Model": { "Package": "{{package}}" }
            }
            """);
        return path;
    }

    private static Task<(int Code, string Out, string Err)> RunFor(TimeSpan time, params string[] args) =>
        EdgeInspectProcess.RunUntilAsync(() => false, time, args);

    [Fact]
    public async Task Run_ReplayFolderWithUnreadablePng_ThatPartRecordedFailSafeAndTheStationGoesOn()
    {
        var images = Directory.CreateDirectory(Path.Combine(_dir, "images")).FullName;
        foreach (var name in new[] { "1.png", "2.png", "4.png" })
        {
            using var image = new ImageBuffer(320, 240);
            ImageFiles.Write(Path.Combine(images, name), image);
        }
        File.WriteAllBytes(Path.Combine(images, "3.png"), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 9, 9, 9]);

        var (code, stdout, stderr) = await EdgeInspectProcess.RunUntilAsync(() => StoreProbe.Records(DbPath) >= 4, TimeSpan.FromSeconds(90), "run", "--profile",
            Profile($$"""{ "Kind": "folder", "Uri": "{{images}}", "IntervalMs": 50 }"""));

        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        using var snapshot = LiteDbInspectionStore.OpenSnapshot(DbPath);
        var records = snapshot.Store.Records().ToList();
        Assert.Equal(["1.png", "2.png", "3.png", "4.png"], records.Select(r => r.PartId));
        var bad = records[2];
        Assert.Equal(VerdictSource.FailSafe, bad.VerdictSource);
        Assert.Equal(Verdict.Ng, bad.Verdict);
        Assert.StartsWith("not a readable image", bad.FailReason);
        Assert.All(records, r => Assert.Equal(snapshot.Store.Statistics().Epoch, r.StoreEpoch));
    }

    [Fact]
    public async Task Run_HostedServiceFails_ExitsSeventyNamingTheService()
    {
        // The mode control folder beside the store is a file: the service that polls it cannot create it and fails.
        File.WriteAllText(Path.Combine(_dir, "control"), "not a folder");

        var (code, stdout, stderr) = await RunFor(TimeSpan.FromSeconds(30), "run", "--profile",
            Profile("""{ "Kind": "virtual-line", "Seed": 5, "IntervalMs": 50 }"""));

        Assert.True(code == 70, $"exit {code}\n{stdout}\n{stderr}");
        Assert.Contains("ModeControlFolder failed", stderr);
    }
}
