using System.Device.Gpio;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Configuration;
using EdgeInspect.Station.Io;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace EdgeInspect.Cli.Hosting;

/// <summary>Reads the mode key switch while the station runs (its pins are watched from start to stop).</summary>
internal sealed class ModeKeySwitchService(GpioController gpio, IOptions<GpioOptions> options, ModeController modes, TimeProvider time) : IHostedService
{
    private ModeKeySwitch? _keySwitch;

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
