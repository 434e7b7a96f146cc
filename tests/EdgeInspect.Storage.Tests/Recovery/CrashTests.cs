using System.Diagnostics;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Storage.Tests.Recovery;

/// <summary>SIGKILL a real writer process at random moments; whatever it reported stored must be there after a restart.</summary>
[Trait(TestCategories.Name, TestCategories.Slow)]
public sealed class CrashTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-crash-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    [Fact]
    public async Task Soak_KilledTwentyTimesWhileWriting_EveryReportedRecordSurvivesAndSequencesNeverRepeat()
    {
        var db = Path.Combine(_dir, "soak.db");
        var random = new Random(1234);
        long lastReported = 0;
        for (var iteration = 0; iteration < 20; iteration++)
        {
            using var child = EdgeInspectProcess.Start("store", "soak", "--db", db);
            var reported = new List<long>();
            var readTask = Task.Run(async () =>
            {
                while (await child.StandardOutput.ReadLineAsync() is { } line)
                {
                    lock (reported) reported.Add(long.Parse(line));
                }
            });
            // let it write for a random while (first line proves it is past start-up), then SIGKILL
            var sw = Stopwatch.StartNew();
            while (true)
            {
                lock (reported) if (reported.Count > 0) break;
                if (child.HasExited) Assert.Fail($"soak exited early: {await child.StandardError.ReadToEndAsync()}");
                Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), "soak wrote nothing in 20 s");
                await Task.Delay(10);
            }
            await Task.Delay(random.Next(5, 400));
            child.Kill(); // SIGKILL on Linux
            await child.WaitForExitAsync();
            await readTask;

            using var store = new LiteDbInspectionStore(new StoreOptions { Path = db });
            Assert.Equal(0, store.RecoveredCorruptFiles);
            var stored = store.Records().Select(r => r.Sequence).ToHashSet();
            List<long> snapshot;
            lock (reported) snapshot = [.. reported];
            Assert.All(snapshot, s => Assert.Contains(s, stored));
            Assert.True(snapshot[0] > lastReported, $"sequence {snapshot[0]} reused after a crash (last reported {lastReported})");
            Assert.True(store.LoadState().LastSequence >= snapshot[^1]);
            lastReported = snapshot[^1];
        }
    }
}
