using System.Device.Gpio;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Gpio;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Station.VirtualLine;

namespace EdgeInspect.Station.Io;

/// <summary>
/// The inspector's OK and defect buttons as the human verdict source. A press belongs to the oldest part that
/// arrived before it and has no verdict yet; presses made before a part was captured are stale (a double press,
/// a press for a part already recorded) and are discarded, so a press is never paired with the wrong part.
/// </summary>
public sealed class GpioInspectorButtons : IHumanVerdictSource, IDisposable
{
    /// <summary>The class a defect press carries: the buttons say NG, not which defect.</summary>
    public const string DefectPressClass = "defect";

    private readonly DebouncedButton _ok;
    private readonly DebouncedButton _defect;
    private readonly Queue<(DateTimeOffset At, Verdict Verdict)> _presses = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;

    public GpioInspectorButtons(GpioController gpio, int okPin, int defectPin, TimeSpan debounce, TimeProvider time)
    {
        _time = time;
        _ok = new DebouncedButton(gpio, okPin, debounce, time);
        _defect = new DebouncedButton(gpio, defectPin, debounce, time);
        _ok.Pressed += at => Enqueue(at, Verdict.Ok);
        _defect.Pressed += at => Enqueue(at, Verdict.Ng);
    }

    private void Enqueue(DateTimeOffset at, Verdict verdict)
    {
        lock (_lock) _presses.Enqueue((at, verdict));
        _signal.Release();
    }

    public HumanPress? Judge(Frame frame, TimeSpan maxWait)
    {
        var deadline = _time.GetUtcNow() + maxWait;
        while (true)
        {
            lock (_lock)
            {
                while (_presses.TryDequeue(out var p))
                {
                    if (p.At < frame.CapturedAt) continue; // stale: made before this part was at the station
                    return new HumanPress(p.Verdict, p.Verdict == Verdict.Ok ? DefectClasses.Ok : DefectPressClass, p.At - frame.CapturedAt);
                }
            }
            var left = deadline - _time.GetUtcNow();
            if (left <= TimeSpan.Zero || !_signal.Wait(left)) return null;
        }
    }

    public void Dispose()
    {
        _ok.Dispose();
        _defect.Dispose();
        _signal.Dispose();
    }
}
