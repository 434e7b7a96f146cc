using System.Globalization;
using EdgeInspect.Station.Pipeline;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Cli.Hosting;

/// <summary>
/// Feeds systemd's watchdog (<c>WatchdogSec</c>, sd_notify "WATCHDOG=1", see systemd.service(5)) only while the
/// pipeline is healthy: every third of the watchdog period, unless a stage has been busy for a whole period
/// (<see cref="PipelineHeartbeat"/>). A hung camera read, model or commit therefore stops the pings, and systemd
/// restarts the service; a line with no parts keeps pinging, since waiting for a trigger is not a hang.
/// Does nothing when systemd did not ask for a watchdog (no WATCHDOG_USEC, or one meant for another process).
/// </summary>
public sealed class SystemdWatchdog(ISystemdNotifier notifier, StationEngine engine, TimeProvider time, ILogger<SystemdWatchdog> log)
    : BackgroundService
{
    /// <summary>The watchdog period systemd asked for (WATCHDOG_USEC for this process); null when none.</summary>
    public static TimeSpan? PeriodFromEnvironment()
    {
        if (Environment.GetEnvironmentVariable("WATCHDOG_PID") is { } pid &&
            pid != Environment.ProcessId.ToString(CultureInfo.InvariantCulture)) return null;
        return long.TryParse(Environment.GetEnvironmentVariable("WATCHDOG_USEC"), NumberStyles.None, CultureInfo.InvariantCulture, out var usec) && usec > 0
            ? TimeSpan.FromMicroseconds(usec)
            : null;
    }

    /// <summary>The period this instance uses; null: <see cref="PeriodFromEnvironment"/>.</summary>
    public TimeSpan? Period { get; init; }

    /// <summary>Pings sent so far.</summary>
    public long Pings { get; private set; }

    /// <summary>Sends one ping when the pipeline is healthy for <paramref name="period"/>; false (and a log line) when it is withheld.</summary>
    public bool Tick(TimeSpan period)
    {
        if (engine.Heartbeat.IsHealthy(period))
        {
            notifier.Notify(new ServiceState("WATCHDOG=1"));
            Pings++;
            return true;
        }
        var busy = engine.Heartbeat.LongestBusy();
        engine.Faults.Fault("watchdog", $"{busy?.Stage} stage busy for {busy?.For.TotalSeconds:0.0} s: watchdog withheld, systemd will restart the service");
        return false;
    }

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!notifier.IsEnabled || (Period ?? PeriodFromEnvironment()) is not { } period) return;
        log.LogInformation("systemd watchdog every {Period}", period / 3);
        using var timer = new PeriodicTimer(period / 3, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken)) Tick(period);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
    }
}
