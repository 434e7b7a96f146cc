using System.Diagnostics;
using Xunit;

namespace EdgeInspect.TestSupport;

/// <summary>Waiting on something another process or thread brings about: a broker, the ingest, a running station.</summary>
public static class Poll
{
    /// <summary>Polls <paramref name="condition"/> every 50 ms; fails the test naming <paramref name="what"/> after <paramref name="timeout"/>.</summary>
    public static async Task Until(Func<bool> condition, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(sw.Elapsed < timeout, $"timed out after {timeout.TotalSeconds:0} s waiting for {what}");
            await Task.Delay(50);
        }
    }

    /// <summary>As <see cref="Until"/>, for a condition that has to ask another process (a command over MQTT, a query).</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(sw.Elapsed < timeout, $"timed out after {timeout.TotalSeconds:0} s waiting for {what}");
            await Task.Delay(50);
        }
    }
}
