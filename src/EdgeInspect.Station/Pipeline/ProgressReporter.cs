using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Shadow;
using EdgeInspect.Station.Automation;
using Microsoft.Extensions.Hosting;

namespace EdgeInspect.Station.Pipeline;

/// <summary>Prints live progress (parts, rate, model/human agreement so far) and a summary on stop.</summary>
public sealed class ProgressReporter(StationEngine engine, ModeController modes, TimeProvider time, TextWriter output) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);
    private long _startTicks;

    public string Line()
    {
        var c = engine.Counters;
        double secs = Math.Max(1e-9, time.GetElapsedTime(_startTicks).TotalSeconds);
        var (lo, hi) = Wilson.Interval(c.AgreedParts, c.PairedParts);
        string agreement = c.PairedParts == 0 ? "n/a" : $"{(double)c.AgreedParts / c.PairedParts:P1} (95% CI {lo:P1}..{hi:P1}, n={c.PairedParts})";
        return $"[{modes.Current.ToWire()}] parts {c.PartsInspected}, {c.PartsInspected / secs:F1}/s, agreement {agreement}, rejects {c.RejectsFired}, failed safe {c.FailedSafe}, dropped {c.FramesDropped}";
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        _startTicks = time.GetTimestamp();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(Interval, time, stoppingToken);
                output.WriteLine(Line());
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        output.WriteLine("summary: " + Line());
    }
}
