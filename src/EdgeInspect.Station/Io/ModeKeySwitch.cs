using System.Device.Gpio;
using EdgeInspect.Core.Domain;
using EdgeInspect.Station.Automation;

namespace EdgeInspect.Station.Io;

/// <summary>
/// The technician's mode key switch: a five-position rotary switch read on three GPIO inputs as a binary code
/// (A = 1, B = 2, C = 4): 1 human, 2 shadow, 3 assist, 4 partial, 5 full; 0 (key out, or between positions) and
/// 6-7 change nothing. A position counts once it has held for the debounce time (a rotary switch passes through
/// intermediate codes while it turns). Each settled change goes through <see cref="ModeController.TrySetMode"/>
/// like any other source, so the gate applies and the change, or its refusal, is audited. Its settled position caps
/// what remote commands may set (<see cref="IModeKeyPosition"/>).
/// </summary>
public sealed class ModeKeySwitch : IModeKeyPosition, IDisposable
{
    private readonly GpioController _gpio;
    private readonly int[] _pins;
    private readonly TimeSpan _debounce;
    private readonly ModeController _modes;
    private readonly ITimer _timer;
    private volatile int _settled = -1;

    public ModeKeySwitch(GpioController gpio, int pinA, int pinB, int pinC, TimeSpan debounce, ModeController modes, TimeProvider time)
    {
        _gpio = gpio;
        _pins = [pinA, pinB, pinC];
        _debounce = debounce;
        _modes = modes;
        foreach (int pin in _pins)
        {
            if (!gpio.IsPinOpen(pin)) gpio.OpenPin(pin, PinMode.InputPullDown);
            gpio.RegisterCallbackForPinValueChangedEvent(pin, PinEventTypes.Rising | PinEventTypes.Falling, OnEdge);
        }
        _timer = time.CreateTimer(_ => Settle(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        // The position at start is where the key already is: it is read, not applied (the persisted mode wins
        // after a restart; turning the key is the act that changes it).
        _settled = Read();
    }

    /// <summary>The last refusal or change, for the status line.</summary>
    public string? LastOutcome { get; private set; }

    /// <inheritdoc />
    public AutomationMode? Position => ModeFor(_settled);

    public static AutomationMode? ModeFor(int code) => code switch
    {
        1 => AutomationMode.Human,
        2 => AutomationMode.Shadow,
        3 => AutomationMode.Assist,
        4 => AutomationMode.Partial,
        5 => AutomationMode.Full,
        _ => null,
    };

    private int Read()
    {
        int code = 0;
        for (int i = 0; i < _pins.Length; i++) if (_gpio.Read(_pins[i]) == PinValue.High) code |= 1 << i;
        return code;
    }

    private void OnEdge(object sender, PinValueChangedEventArgs e) => _timer.Change(_debounce, Timeout.InfiniteTimeSpan);

    private void Settle()
    {
        int code = Read();
        if (code == _settled) return;
        _settled = code;
        if (ModeFor(code) is not { } mode) return;
        var outcome = _modes.TrySetMode(mode, "key-switch", "key-switch", $"key switch turned to position {code}", force: false);
        LastOutcome = outcome.Changed ? $"key switch: {outcome.From.ToWire()} -> {outcome.To.ToWire()}" : $"key switch refused ({outcome.To.ToWire()}): {outcome.Reason}";
    }

    public void Dispose()
    {
        foreach (int pin in _pins) _gpio.UnregisterCallbackForPinValueChangedEvent(pin, OnEdge);
        _timer.Dispose();
    }
}
