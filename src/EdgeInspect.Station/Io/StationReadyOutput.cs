using System.Device.Gpio;
using EdgeInspect.Station.Pipeline;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Station.Io;

/// <summary>
/// The "station ready" output: active while <see cref="StationEngine.IsHealthy"/> (no stage stuck past the stall limit,
/// the store writing), inactive otherwise and whenever the service is not running, so a PLC can divert parts. Checked
/// every <see cref="Interval"/>; each change is logged once.
/// </summary>
public sealed class StationReadyOutput : BackgroundService
{
    private readonly GpioController _gpio;
    private readonly int _pin;
    private readonly PinValue _active, _inactive;
    private readonly StationEngine _engine;
    private readonly TimeSpan _stallLimit;
    private readonly TimeProvider _time;
    private readonly ILogger _log;

    /// <summary>Opens <paramref name="pin"/> as an output, inactive until the first check.</summary>
    public StationReadyOutput(GpioController gpio, int pin, bool activeLow, StationEngine engine, TimeSpan stallLimit, TimeProvider time, ILogger<StationReadyOutput> log)
    {
        _gpio = gpio;
        _pin = pin;
        _active = activeLow ? PinValue.Low : PinValue.High;
        _inactive = activeLow ? PinValue.High : PinValue.Low;
        _engine = engine;
        _stallLimit = stallLimit;
        _time = time;
        _log = log;
        gpio.OpenPin(pin, PinMode.Output, _inactive);
    }

    /// <summary>How often health is checked: well under a part's travel past the station on a fast line.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(200);

    /// <summary>Whether the output is active now.</summary>
    public bool Ready { get; private set; }

    /// <summary>Checks health once and drives the pin; returns <see cref="Ready"/>.</summary>
    public bool Update()
    {
        var healthy = _engine.IsHealthy(_stallLimit);
        if (healthy == Ready) return Ready;
        _gpio.Write(_pin, healthy ? _active : _inactive);
        Ready = healthy;
        if (healthy) _log.LogWarning("station ready output on (pin {Pin})", _pin);
        else
        {
            var why = !_engine.StoreWritable ? "the store is not writable" : $"{_engine.Heartbeat.LongestBusy()?.Stage} stage stuck";
            _log.LogError("station ready output off (pin {Pin}): {Why}", _pin, why);
        }
        return Ready;
    }

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, _time);
        try
        {
            do Update();
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
        finally
        {
            // Stopping (or failed): the line must not count on this station.
            _gpio.Write(_pin, _inactive);
            Ready = false;
        }
    }
}
