using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;

namespace EdgeInspect.Station.Automation;

public sealed record ModeChangeResult(bool Changed, AutomationMode From, AutomationMode To, string Reason);

/// <summary>
/// The one place the station's mode changes: key switch, `edgeinspect mode set`, and the fleet's MQTT
/// set-mode command all call <see cref="TrySetMode"/>. Every accepted change is persisted in the store's
/// <see cref="DeviceState"/> and audited (who, when, from, to, why); refusals are audited too.
/// Shadow evidence for the gate is every stored record with both a human and a model verdict, counted by the store
/// with the records (<see cref="DeviceState.PairedParts"/>), so start-up reads no records.
/// </summary>
public sealed class ModeController
{
    private readonly IInspectionStore _store;
    private readonly AutomationGate _gate;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private long _paired, _agree;
    private volatile int _mode;

    public ModeController(IInspectionStore store, AutomationGate gate, TimeProvider time)
    {
        _store = store;
        _gate = gate;
        _time = time;
        var state = store.LoadState();
        _mode = (int)state.Mode;
        _paired = state.PairedParts;
        _agree = state.AgreedParts;
    }

    public AutomationMode Current => (AutomationMode)_mode;

    /// <summary>Raised after an accepted change (status light, MQTT status), outside the lock.</summary>
    public event Action<ModeChangeResult>? Changed;

    /// <summary>The pipeline reports each paired part so the gate sees evidence without re-reading the store.</summary>
    public void RecordPair(bool agreed)
    {
        Interlocked.Increment(ref _paired);
        if (agreed) Interlocked.Increment(ref _agree);
    }

    public (long Paired, long Agreements) Evidence => (Interlocked.Read(ref _paired), Interlocked.Read(ref _agree));

    public ModeChangeResult TrySetMode(AutomationMode to, string actor, string source, string? reason, bool force)
    {
        ModeChangeResult result;
        lock (_lock)
        {
            var from = Current;
            if (string.IsNullOrWhiteSpace(reason)) result = new(false, from, to, "a reason is required for every mode change");
            else if (from == to) result = new(false, from, to, $"already in {to.ToWire()}");
            else
            {
                var (paired, agree) = Evidence;
                var gate = _gate.Evaluate(to, paired, agree);
                if (!gate.Allowed && !force) result = new(false, from, to, "gate refused: " + gate.Reason);
                else
                {
                    var state = _store.LoadState();
                    state.Mode = to;
                    _store.SaveState(state);
                    _mode = (int)to;
                    result = new(true, from, to, gate.Allowed ? gate.Reason : "forced past the gate (" + gate.Reason + ")");
                }
            }
            _store.AppendAudit(new AuditEvent(_time.GetUtcNow(), result.Changed ? "mode-change" : "mode-change-refused",
                actor, source, from.ToWire(), to.ToWire(), $"{reason} | {result.Reason}"));
        }
        if (result.Changed) Changed?.Invoke(result);
        return result;
    }

    /// <summary>Re-reads the persisted mode (written by another process, e.g. `edgeinspect mode set`).</summary>
    public bool Reload()
    {
        var persisted = _store.LoadState().Mode;
        if (persisted == Current) return false;
        var from = Current;
        _mode = (int)persisted;
        Changed?.Invoke(new ModeChangeResult(true, from, persisted, "changed by another process"));
        return true;
    }
}
