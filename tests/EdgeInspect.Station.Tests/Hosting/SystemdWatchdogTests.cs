using EdgeInspect.Cli.Hosting;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Storage;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Station.VirtualLine;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EdgeInspect.Station.Tests.Hosting;

public sealed class SystemdWatchdogTests
{
    private sealed class RecordingNotifier : ISystemdNotifier
    {
        public List<string> Sent { get; } = [];
        public bool IsEnabled => true;
        public void Notify(ServiceState state) => Sent.Add(state.ToString());
    }

    [Fact]
    public void Tick_StageBusyLongerThanPeriod_PingWithheldUntilItIsIdleAgain()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 8, 0, 0, TimeSpan.Zero));
        using var store = new InMemoryInspectionStore();
        var engine = new StationEngine(new StationOptions(), new InspectorHost(new SimulatedModelInspector()),
            new ModeController(store, new AutomationGate(new GateOptions()), time), store, new SimulatedStationOutputs(), null, time);
        var notifier = new RecordingNotifier();
        using var watchdog = new SystemdWatchdog(notifier, engine, time, NullLogger<SystemdWatchdog>.Instance);
        var period = TimeSpan.FromSeconds(30);

        Assert.True(watchdog.Tick(period)); // every stage waiting for work (no parts on the line): healthy
        engine.Heartbeat.Busy(PipelineStage.Inspection);
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.True(watchdog.Tick(period)); // a slow part, not yet a hang
        time.Advance(TimeSpan.FromSeconds(25));
        Assert.False(watchdog.Tick(period)); // 35 s inside one decision: hung
        engine.Heartbeat.Idle(PipelineStage.Inspection);
        Assert.True(watchdog.Tick(period));

        Assert.Equal(3, notifier.Sent.Count);
        Assert.All(notifier.Sent, s => Assert.Equal("WATCHDOG=1", s));
    }
}
