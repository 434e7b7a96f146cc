using System.Device.Gpio;

namespace EdgeInspect.Gpio;

/// <summary>
/// A GPIO driver with no board behind it (the dotnet/iot pattern: the hardware seam is a driver the product can
/// simulate). Inputs are driven by <see cref="SetInput"/> (the simulated inspector's buttons, the virtual line's
/// part sensor, the key switch); outputs are recorded so the station's actuation can be checked.
/// <para>
/// With a write-fault file, every output write fails with an <see cref="IOException"/> while that file exists, as
/// writes to a dead GPIO expander do: a bench (or a test of the real binary) can take the outputs away and give them
/// back from outside the process.
/// </para>
/// </summary>
public sealed class SimulatedGpioDriver : GpioDriver
{
    private readonly string? _writeFaultFile;
    private readonly Lock _lock = new();
    private readonly Dictionary<int, PinMode> _modes = [];
    private readonly Dictionary<int, PinValue> _values = [];
    private readonly Dictionary<int, List<(PinEventTypes Types, PinChangeEventHandler Handler)>> _callbacks = [];
    private readonly Dictionary<int, int> _risingEdges = [];

    /// <param name="writeFaultFile">While this file exists, output writes fail; null: they never fail.</param>
    public SimulatedGpioDriver(string? writeFaultFile = null)
    {
        _writeFaultFile = writeFaultFile;
    }

    protected override int PinCount => 64;

    /// <summary>Rising edges written to an output pin so far (reject pulses, light changes).</summary>
    public int RisingEdges(int pin) { lock (_lock) return _risingEdges.GetValueOrDefault(pin); }

    /// <summary>Drives an input pin as the outside world would, raising the registered edge callbacks.</summary>
    public void SetInput(int pin, PinValue value)
    {
        List<(PinEventTypes, PinChangeEventHandler)> fire;
        PinEventTypes edge;
        lock (_lock)
        {
            var old = _values.GetValueOrDefault(pin, PinValue.Low);
            _values[pin] = value;
            if (old == value) return;
            edge = value == PinValue.High ? PinEventTypes.Rising : PinEventTypes.Falling;
            fire = _callbacks.TryGetValue(pin, out var list) ? [.. list] : [];
        }
        foreach (var (types, handler) in fire)
        {
            if ((types & edge) != 0) handler(this, new PinValueChangedEventArgs(edge, pin));
        }
    }

    protected override void OpenPin(int pinNumber) { lock (_lock) _values.TryAdd(pinNumber, PinValue.Low); }
    protected override void ClosePin(int pinNumber) { lock (_lock) { _modes.Remove(pinNumber); _callbacks.Remove(pinNumber); } }
    protected override void SetPinMode(int pinNumber, PinMode mode) { lock (_lock) _modes[pinNumber] = mode; }
    protected override PinMode GetPinMode(int pinNumber) { lock (_lock) return _modes.GetValueOrDefault(pinNumber, PinMode.Input); }
    protected override bool IsPinModeSupported(int pinNumber, PinMode mode) => true;
    protected override PinValue Read(int pinNumber) { lock (_lock) return _values.GetValueOrDefault(pinNumber, PinValue.Low); }

    protected override void Write(int pinNumber, PinValue value)
    {
        if (_writeFaultFile is not null && File.Exists(_writeFaultFile))
        {
            throw new IOException($"GPIO {pinNumber}: write failed (Input/output error; simulated fault: {_writeFaultFile} exists)");
        }
        lock (_lock)
        {
            if (_values.GetValueOrDefault(pinNumber, PinValue.Low) == PinValue.Low && value == PinValue.High)
                _risingEdges[pinNumber] = _risingEdges.GetValueOrDefault(pinNumber) + 1;
            _values[pinNumber] = value;
        }
    }

    protected override WaitForEventResult WaitForEvent(int pinNumber, PinEventTypes eventTypes, CancellationToken cancellationToken)
    {
        var tcs = new TaskCompletionSource<PinEventTypes>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Handler(object s, PinValueChangedEventArgs e) => tcs.TrySetResult(e.ChangeType);
        AddCallbackForPinValueChangedEvent(pinNumber, eventTypes, Handler);
        try
        {
            tcs.Task.Wait(cancellationToken);
            return new WaitForEventResult { EventTypes = tcs.Task.Result, TimedOut = false };
        }
        catch (OperationCanceledException) { return new WaitForEventResult { EventTypes = PinEventTypes.None, TimedOut = true }; }
        finally { RemoveCallbackForPinValueChangedEvent(pinNumber, Handler); }
    }

    protected override void AddCallbackForPinValueChangedEvent(int pinNumber, PinEventTypes eventTypes, PinChangeEventHandler callback)
    {
        lock (_lock)
        {
            if (!_callbacks.TryGetValue(pinNumber, out var list)) _callbacks[pinNumber] = list = [];
            list.Add((eventTypes, callback));
        }
    }

    protected override void RemoveCallbackForPinValueChangedEvent(int pinNumber, PinChangeEventHandler callback)
    {
        lock (_lock)
        {
            if (_callbacks.TryGetValue(pinNumber, out var list)) list.RemoveAll(c => c.Handler == callback);
        }
    }
}
