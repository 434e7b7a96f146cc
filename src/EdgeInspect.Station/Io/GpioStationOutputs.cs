using System.Device.Gpio;
using EdgeInspect.Station.Pipeline;

namespace EdgeInspect.Station.Io;

/// <summary>
/// Reject actuator and status light on GPIO outputs (pins from the device config). A reject is a pulse: the pin
/// goes high and a TimeProvider timer brings it low after <paramref name="pulse"/>, so the inspection loop never
/// sleeps. Works on any GpioDriver: the real board's or <see cref="Gpio.SimulatedGpioDriver"/>.
/// </summary>
public sealed class GpioStationOutputs : IStationOutputs, IDisposable
{
    private readonly GpioController _gpio;
    private readonly int _rejectPin, _lightPin;
    private readonly ITimer _release;
    private long _releaseFailures;

    public GpioStationOutputs(GpioController gpio, int rejectPin, int lightPin, TimeSpan pulse, TimeProvider time)
    {
        _gpio = gpio;
        _rejectPin = rejectPin;
        _lightPin = lightPin;
        Pulse = pulse;
        gpio.OpenPin(rejectPin, PinMode.Output, PinValue.Low);
        gpio.OpenPin(lightPin, PinMode.Output, PinValue.Low);
        _release = time.CreateTimer(_ => Release(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Release pulses whose write failed (the pin may be stuck high until the next reject writes it).</summary>
    public long ReleaseFailures => Interlocked.Read(ref _releaseFailures);

    /// <summary>
    /// Ends the pulse. It runs on a timer thread, where an exception would end the process: a failed write is counted
    /// instead, and the next part's reject reports the output's fault in its own record.
    /// </summary>
    private void Release()
    {
        try
        {
            _gpio.Write(_rejectPin, PinValue.Low);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            Interlocked.Increment(ref _releaseFailures);
        }
    }

    public TimeSpan Pulse { get; }

    public void Reject(string? partId)
    {
        // Back-to-back rejects shorter than the pulse merge into one longer pulse; the line's pusher treats a held
        // signal as one stroke, and the parts are spaced further apart than the pulse on any real line.
        _gpio.Write(_rejectPin, PinValue.High);
        _release.Change(Pulse, Timeout.InfiniteTimeSpan);
    }

    /// <summary>One lamp: on for green/amber/red alike here; a stack light would take one pin per colour.</summary>
    public void SetStatus(StatusLight light) => _gpio.Write(_lightPin, light == StatusLight.Off ? PinValue.Low : PinValue.High);

    public void Dispose() => _release.Dispose();
}
