using System.Collections.Concurrent;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;
using EdgeInspect.Station.Pipeline;

namespace EdgeInspect.Station.Automation;

public sealed record ModeChangeResult(bool Changed, AutomationMode From, AutomationMode To, string Reason);

/// <summary>
/// The one place the station's mode changes: key switch, `edgeinspect mode set`, and the fleet's MQTT
/// set-mode command all call <see cref="TrySetMode"/>. Every accepted change is persisted in the store's
/// <see cref="DeviceState"/> and audited (who, when, from, to, why); refusals are audited too.
/// <para>
/// The gate's evidence belongs to a model: agreement measured on one model says nothing about the next. It is every
/// stored record with both a human and a model verdict, counted per model (name and version) by the store with the
/// records (<see cref="DeviceState.ModelEvidence"/>), plus what a model carried in at its promotion (its shadow as a
/// candidate, <see cref="DeviceState.CarriedEvidence"/>); start-up reads no records. <see cref="Evidence"/> is the
/// evidence of the model the inspector host holds now. A controller built without a host (tools that run one model)
/// counts every model's parts.
/// </para>
/// </summary>
public sealed class ModeController
{
    private readonly IInspectionStore _store;
    private readonly AutomationGate _gate;
    private readonly TimeProvider _time;
    private readonly IInspectorHost? _models;
    private readonly Lock _lock = new();
    private readonly ConcurrentDictionary<(string Model, string Version), EvidenceTally> _byModel = new();
    private readonly EvidenceTally _all = new();
    private volatile int _mode;

    /// <param name="store">Where the mode, the audit and the evidence live.</param>
    /// <param name="gate">What an automated mode needs.</param>
    /// <param name="time">The audit's clock.</param>
    /// <param name="models">The host whose current model the evidence is counted for; null: every model counts.</param>
    public ModeController(IInspectionStore store, AutomationGate gate, TimeProvider time, IInspectorHost? models = null)
    {
        _store = store;
        _gate = gate;
        _time = time;
        _models = models;
        var state = store.LoadState();
        _mode = (int)state.Mode;
        _all.Add(state.PairedParts, state.AgreedParts);
        foreach (var e in state.ModelEvidence) Tally(e.Model, e.Version).Add(e.Paired, e.Agreed);
        foreach (var e in state.CarriedEvidence) Tally(e.Model, e.Version).Add(e.Paired, e.Agreed);
    }

    public AutomationMode Current => (AutomationMode)_mode;

    /// <summary>Raised after an accepted change (status light, MQTT status), outside the lock.</summary>
    public event Action<ModeChangeResult>? Changed;

    /// <summary>
    /// The pipeline reports each stored record so the gate sees evidence without re-reading the store; only paired
    /// records (a human and a model verdict) count, for the model that gave the verdict.
    /// </summary>
    public void RecordPair(InspectionRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record.Agreement is not { } agreed) return;
        var a = agreed ? 1 : 0;
        _all.Add(1, a);
        Tally(record.ModelName ?? "", record.ModelVersion ?? "").Add(1, a);
    }

    /// <summary>The gate's evidence now: paired parts and agreements of the active model (of every model without a host).</summary>
    public (long Paired, long Agreements) Evidence
    {
        get
        {
            if (_models is null) return (_all.Paired, _all.Agreed);
            return _models.Current is { } m ? EvidenceFor(m.ModelName, m.ModelVersion) : (0, 0);
        }
    }

    /// <summary>The evidence of one model: its own paired parts and what it carried in at promotion.</summary>
    public (long Paired, long Agreements) EvidenceFor(string model, string version) =>
        _byModel.TryGetValue((model ?? "", version ?? ""), out var t) ? (t.Paired, t.Agreed) : (0, 0);

    /// <summary>
    /// Adds evidence a model brings from outside its own records (a candidate's shadow at its promotion), persisted
    /// in <see cref="DeviceState.CarriedEvidence"/> so it survives a restart.
    /// </summary>
    public void CarryEvidence(string model, string version, long paired, long agreed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(paired);
        ArgumentOutOfRangeException.ThrowIfNegative(agreed);
        if (paired == 0) return;
        lock (_lock)
        {
            var state = _store.LoadState();
            ModelEvidence.Add(state.CarriedEvidence, model, version, paired, agreed, state.LastSequence);
            _store.SaveState(state);
            Tally(model ?? "", version ?? "").Add(paired, agreed);
        }
    }

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
                    Persist(to);
                    result = new(true, from, to, gate.Allowed ? gate.Reason : "forced past the gate (" + gate.Reason + ")");
                }
            }
            _store.AppendAudit(new AuditEvent(_time.GetUtcNow(), result.Changed ? "mode-change" : "mode-change-refused",
                actor, source, from.ToWire(), to.ToWire(), $"{reason} | {result.Reason}"));
        }
        if (result.Changed) Changed?.Invoke(result);
        return result;
    }

    /// <summary>
    /// After the active model changed (promotion, rollback, an active slot that did not load at start): when its evidence does
    /// not support the current mode, steps down to the highest mode it does support, audited as "mode-step-down" with
    /// actor "system" and the gate's reason. Past overrides do not carry over: they were given for another model.
    /// Null when the mode stands.
    /// </summary>
    public ModeChangeResult? StepDownIfUnsupported(string source, string why)
    {
        ModeChangeResult result;
        lock (_lock)
        {
            var from = Current;
            var (paired, agree) = Evidence;
            var refused = _gate.Evaluate(from, paired, agree);
            if (refused.Allowed) return null;
            var to = from;
            while (to > AutomationMode.Human && !_gate.Evaluate(to, paired, agree).Allowed) to--;
            Persist(to);
            result = new(true, from, to, $"{why}: the active model's evidence does not support {from.ToWire()} ({refused.Reason})");
            _store.AppendAudit(new AuditEvent(_time.GetUtcNow(), "mode-step-down", "system", source, from.ToWire(), to.ToWire(), result.Reason));
        }
        Changed?.Invoke(result);
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

    private void Persist(AutomationMode to)
    {
        var state = _store.LoadState();
        state.Mode = to;
        _store.SaveState(state);
        _mode = (int)to;
    }

    // Only the first paired part of a new model allocates (its tally); every later one is a lookup.
    private EvidenceTally Tally(string model, string version) => _byModel.GetOrAdd((model, version), static _ => new EvidenceTally());
}
