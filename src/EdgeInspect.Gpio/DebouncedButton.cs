using System.Device.Gpio;

namespace EdgeInspect.Gpio;

/// <summary>
/// A push button on a GPIO input, debounced in software: a press counts only when the pin has stayed at its
/// new level for the debounce time (contact bounce on tactile switches settles within ~5-20 ms; datasheets
/// such as the Omron B3F give 5 ms bounce). Written on System.Device.Gpio directly because Iot.Device.Bindings
/// (whose GpioButton does this) is absent from this repo's NuGet mirror. Active-high: wire the button to 3V3
/// with a pull-down. Time comes from the injected TimeProvider so tests drive it with fake time.
/// </summary>
public sealed class DebouncedButton : IDisposable
{
    private readonly GpioController _gpio;
    private readonly int _pin;
    private readonly TimeSpan _debounce;
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private PinValue _stable = PinValue.Low;

    public DebouncedButton(GpioController gpio, int pin, TimeSpan debounce, TimeProvider time)
    {
        _gpio = gpio;
        _pin = pin;
        _debounce = debounce;
        _time = time;
        if (!gpio.IsPinOpen(pin)) gpio.OpenPin(pin, PinMode.InputPullDown);
        _timer = time.CreateTimer(_ => Settle(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        gpio.RegisterCallbackForPinValueChangedEvent(pin, PinEventTypes.Rising | PinEventTypes.Falling, OnEdge);
    }

    /// <summary>Raised once per debounced press (low to high), with the time it settled.</summary>
    public event Action<DateTimeOffset>? Pressed;

    private void OnEdge(object sender, PinValueChangedEventArgs e) =>
        // Every edge restarts the settle timer: only a level that holds for the debounce time is believed.
        _timer.Change(_debounce, Timeout.InfiniteTimeSpan);

    private void Settle()
    {
        var level = _gpio.Read(_pin);
        if (level == _stable) return;
        _stable = level;
        if (level == PinValue.High) Pressed?.Invoke(_time.GetUtcNow());
    }

    public void Dispose()
    {
        _gpio.UnregisterCallbackForPinValueChangedEvent(_pin, OnEdge);
        _timer.Dispose();
    }
}
