using System.Text.RegularExpressions;
using EdgeInspect.Core.Domain;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Station.Tests.Cli;

/// <summary>The real `edgeinspect run` as a child process, on the dev profile with its store in a temp folder.</summary>
public partial class RunVerbTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ei-run-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Profile(string modelPackage, string extra = "")
    {
        string path = Path.Combine(_dir, "profile.json");
        File.WriteAllText(path, $$"""
            {
              "Device": { "Id": "test-001", "Station": "station-1" },
              "Source": { "Kind": "virtual-line", "Seed": 5, "IntervalMs": 50, "DefectRate": 0.4 },
              "HumanInspector": { "Accuracy": 0.97, "MeanDelayMs": 100, "Seed": 11 },
              "Automation": { "InitialMode": "shadow" },
              "Store": { "Path": "{{Path.Combine(_dir, "ei.db")}}" },
              "Model": { "Package": "{{modelPackage}}" }{{extra}}
            }
            """);
        return path;
    }

    private static Task<(int Code, string Out, string Err)> RunFor(TimeSpan time, params string[] args) =>
        EdgeInspectProcess.RunUntilAsync(() => false, time, args);

    [GeneratedRegex(@"summary: \[shadow\] parts (\d+)")]
    private static partial Regex SummaryParts();

    [Trait(TestCategories.Name, TestCategories.Slow)]
    [Fact]
    public async Task Run_DevProfileWithShippedModel_ShowsProgressStopsCleanlyOnSigtermAndStoresEveryPart()
    {
        string package = Path.Combine(RepoPaths.Root, "models", "virtual-line");
        Assert.True(File.Exists(Path.Combine(package, "manifest.json")), $"the shipped package {package} is missing");
        var db = Path.Combine(_dir, "ei.db");
        var (code, stdout, stderr) = await EdgeInspectProcess.RunUntilAsync(() => StoreProbe.Records(db) >= 6,
            TimeSpan.FromSeconds(90), "run", "--profile", Profile(package));
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        Assert.Contains("model virtual-line", stdout);
        Assert.Contains("agreement", stdout);
        var m = SummaryParts().Match(stdout);
        Assert.True(m.Success, stdout);
        int parts = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(parts >= 6, stdout);

        using var snapshot = LiteDbInspectionStore.OpenSnapshot(Path.Combine(_dir, "ei.db"));
        var records = snapshot.Store.Records().ToList();
        Assert.Equal(parts, records.Count);
        Assert.Equal(Enumerable.Range(1, parts).Select(i => (long)i), records.Select(r => r.Sequence));
        Assert.All(records, r => Assert.Equal("virtual-line", r.ModelName));
        Assert.All(records, r => Assert.NotNull(r.HumanVerdict));
        Assert.All(records, r => Assert.Equal(AutomationMode.Shadow, r.Mode));
    }

    [Fact]
    public async Task Run_MissingModelPackage_ExitsTwoNamingTheKey()
    {
        var (code, _, stderr) = await RunFor(TimeSpan.Zero, "run", "--profile", Profile(Path.Combine(_dir, "no-such-model")));
        Assert.Equal(2, code);
        Assert.Contains("Model:Package", stderr);
    }

    [Fact]
    public async Task Run_BadUplinkPort_ExitsTwoNamingTheKey()
    {
        string package = Path.Combine(RepoPaths.Root, "models", "virtual-line");
        var (code, _, stderr) = await RunFor(TimeSpan.Zero, "run", "--profile", Profile(package, """, "Uplink": { "Host": "127.0.0.1", "Port": 70000 }"""));
        Assert.Equal(2, code);
        Assert.Contains("Uplink:Port", stderr);
    }

    private static string[] ErrorLines(string stderr) => stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    [Theory]
    [InlineData("\"IntervalMs\": 50", "\"IntervalMs\": -5", "error: profile.json: Source:IntervalMs: must be 0..60000")]
    [InlineData("\"InitialMode\": \"shadow\"", "\"InitialMode\": \"shadow\" }, \"Gpio\": { \"ButtonOk\": 5", "error: profile.json: Gpio:ModeKeyA: pin 5 is already used by Gpio:ButtonOk")]
    [InlineData("\"Store\": {", "\"Store\": { \"BudgetBytes\": 10,", "error: Store:BudgetBytes: 10 is below the 1 MiB minimum")]
    [InlineData("\"InitialMode\": \"shadow\"", "\"InitialMode\": \"shadow\" }, \"Telemetry\": { \"IntervalSeconds\": \"often\"", "error: Telemetry:IntervalSeconds: 'often' is not a valid Double")]
    public async Task Run_BadProfileValue_OneErrorLineNamingTheKeyExitsTwo(string find, string replace, string expected)
    {
        string package = Path.Combine(RepoPaths.Root, "models", "virtual-line");
        string path = Profile(package);
        File.WriteAllText(path, File.ReadAllText(path).Replace(find, replace, StringComparison.Ordinal));
        var (code, stdout, stderr) = await RunFor(TimeSpan.Zero, "run", "--profile", path);
        Assert.True(code == 2, $"exit {code}\n{stdout}\n{stderr}");
        Assert.Equal([expected], ErrorLines(stderr));
        Assert.False(File.Exists(Path.Combine(_dir, "ei.db")), "a refused start writes no store");
    }

    [Fact]
    public async Task Run_MissingProfile_OneErrorLineExitsTwo()
    {
        var (code, _, stderr) = await RunFor(TimeSpan.Zero, "run", "--profile", Path.Combine(_dir, "nowhere"));
        Assert.Equal(2, code);
        Assert.StartsWith("error: --profile: no profile", Assert.Single(ErrorLines(stderr)));
    }

    [Fact]
    public async Task ModeSet_NoRunningStation_ExitsThree_UnknownModeExitsTwo()
    {
        string package = Path.Combine(RepoPaths.Root, "models", "virtual-line");
        string profile = Profile(package);
        var (code, _, stderr) = await RunFor(TimeSpan.Zero, "mode", "set", "assist", "--reason", "test", "--profile", profile);
        Assert.Equal(3, code);
        Assert.StartsWith("error: no running station picked up the request", Assert.Single(ErrorLines(stderr)));

        (code, _, stderr) = await RunFor(TimeSpan.Zero, "mode", "set", "autopilot", "--reason", "test", "--profile", profile);
        Assert.Equal(2, code);
        Assert.Contains("MODE: unknown mode 'autopilot'", Assert.Single(ErrorLines(stderr)));
    }
}
