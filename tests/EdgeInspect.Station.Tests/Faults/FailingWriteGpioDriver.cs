using System.Device.Gpio;

namespace EdgeInspect.Station.Tests.Faults;

/// <summary>A board whose output writes fail once <see cref="FailWrites"/> is set, as a pin on a dead GPIO expander does.</summary>
internal sealed class FailingWriteGpioDriver : GpioDriver
{
    private readonly Dictionary<int, PinValue> _values = [];
    private readonly Dictionary<int, PinMode> _modes = [];

    public bool FailWrites { get; set; }

    protected override int PinCount => 64;
    protected override void OpenPin(int pinNumber) => _values.TryAdd(pinNumber, PinValue.Low);
    protected override void ClosePin(int pinNumber) => _modes.Remove(pinNumber);
    protected override void SetPinMode(int pinNumber, PinMode mode) => _modes[pinNumber] = mode;
    protected override PinMode GetPinMode(int pinNumber) => _modes.GetValueOrDefault(pinNumber, PinMode.Input);
    protected override bool IsPinModeSupported(int pinNumber, PinMode mode) => true;
    protected override PinValue Read(int pinNumber) => _values.GetValueOrDefault(pinNumber, PinValue.Low);

    protected override void Write(int pinNumber, PinValue value)
    {
        if (FailWrites) throw new IOException($"GPIO {pinNumber}: write failed (Input/output error)");
        _values[pinNumber] = value;
    }

    protected override WaitForEventResult WaitForEvent(int pinNumber, PinEventTypes eventTypes, CancellationToken cancellationToken) =>
        new() { TimedOut = true, EventTypes = PinEventTypes.None };

    protected override void AddCallbackForPinValueChangedEvent(int pinNumber, PinEventTypes eventTypes, PinChangeEventHandler callback) { }
    protected override void RemoveCallbackForPinValueChangedEvent(int pinNumber, PinChangeEventHandler callback) { }
}
