using System.Device.Gpio;
using EdgeInspect.Core.Domain;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Configuration;
using EdgeInspect.Station.Io;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace EdgeInspect.Cli.Hosting;

/// <summary>
/// Reads the mode key switch while the station runs (its pins are watched from start to stop) and tells the fleet's
/// command handlers where it stands: until the switch is read, no position is known and remote commands may only
/// lower the mode.
/// </summary>
internal sealed class ModeKeySwitchService(GpioController gpio, IOptions<GpioOptions> options, ModeController modes, TimeProvider time)
    : IHostedService, IModeKeyPosition
{
    private volatile ModeKeySwitch? _keySwitch;

    public AutomationMode? Position => _keySwitch?.Position;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var pins = options.Value;
        _keySwitch = new ModeKeySwitch(gpio, pins.ModeKeyA, pins.ModeKeyB, pins.ModeKeyC, pins.Debounce, modes, time);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _keySwitch?.Dispose();
        _keySwitch = null;
        return Task.CompletedTask;
    }
}
