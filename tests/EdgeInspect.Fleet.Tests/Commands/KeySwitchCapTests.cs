using System.Device.Gpio;
using System.Text;
using System.Text.Json.Nodes;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Gpio;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Fleet.Commands;
using EdgeInspect.Station.Io;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Commands;

/// <summary>The real key switch (on simulated GPIO) as the set-mode command's local authority.</summary>
public sealed class KeySwitchCapTests : IDisposable
{
    private const string Device = "dev-01";
    private readonly TestOperators _ops = new();

    public void Dispose() => _ops.Dispose();

    [Fact]
    public async Task SetMode_KeySwitchTurnedToAssist_RemotePartialRefusedAndKeyOutAllowsOnlyLowering()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero));
        var driver = new SimulatedGpioDriver();
        using var gpio = new GpioController(driver);
        using var store = new InMemoryInspectionStore();
        var modes = new ModeController(store, new AutomationGate(new GateOptions()), time);
        using var key = new ModeKeySwitch(gpio, 5, 6, 13, TimeSpan.FromMilliseconds(30), modes, time);
        var p = new CommandProcessor(new CommandOptions(), _ops.Security(Device, allowRemoteOverride: true), time, store);
        p.Register("set-mode", OperatorRole.Operate, FleetCommandHandlers.SetMode(modes, key));
        var n = 0;
        Task<CommandReply> Set(string mode, bool force = false) => p.ProcessAsync("set-mode", TestOperators.Sign(_ops.Override, Device, "set-mode", $"c{n++}",
            time.GetUtcNow().AddMinutes(1), new JsonObject { ["mode"] = mode, ["reason"] = "test", ["force"] = force }, time.GetUtcNow()), default).AsTask();

        // Key to assist (code 3 = A+B).
        driver.SetInput(5, PinValue.High);
        driver.SetInput(6, PinValue.High);
        time.Advance(TimeSpan.FromMilliseconds(40));
        var partial = await Set("partial", force: true);
        var human = await Set("human");
        // Key out (code 0): the mode may go down, never up.
        driver.SetInput(5, PinValue.Low);
        driver.SetInput(6, PinValue.Low);
        time.Advance(TimeSpan.FromMilliseconds(40));
        var up = await Set("shadow");

        Assert.Equal(AutomationMode.Human, modes.Current);
        Assert.Equal(CommandErrors.AboveKeySwitch, partial.Error);
        Assert.True(human.Ok, human.Reason);
        Assert.Equal(CommandErrors.AboveKeySwitch, up.Error);
        Assert.Null(key.Position);
    }
}
