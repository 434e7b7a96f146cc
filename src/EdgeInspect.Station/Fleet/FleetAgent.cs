using System.Text.Json.Nodes;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Core.Storage;
using EdgeInspect.Fleet.Protocol.Packages;
using EdgeInspect.Fleet.Protocol.Transfer;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Fleet.Audit;
using EdgeInspect.Station.Fleet.Commands;
using EdgeInspect.Station.Fleet.Shadow;
using EdgeInspect.Station.Fleet.Slots;
using EdgeInspect.Station.Fleet.Status;
using EdgeInspect.Station.Pipeline;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeInspect.Station.Fleet;

/// <summary>
/// The station's side of fleet control, transport-free: the MQTT glue hands it command contexts and received archives.
/// It ties together the slots (<see cref="ModelSlots"/>: install into the spare slot, restore at start, promote and
/// roll back through <see cref="IInspectorHost.Swap"/> between two frames), the candidate's trial
/// (<see cref="CandidateTrial"/>, run on every stored part on the record stage, never deciding a part), the watch of a
/// newly promoted model (<see cref="ModelWatch"/>), and the audit (<see cref="FleetAuditLog"/>, raised on
/// <see cref="StateChanged"/>).
/// </summary>
public sealed class FleetAgent : IPartObserver, IDisposable
{
    private readonly FleetAgentOptions _options;
    private readonly ModeController _modes;
    private readonly ModelSlots _slots;
    private readonly FleetAuditLog _audit;
    private readonly ILogger _log;
    // Guards the slots, the trial's statistics and the watch. Held only briefly: status and commands wait on it.
    private readonly Lock _lock = new();
    // Held while the candidate inspects a part and by whatever promotes, replaces or disposes the candidate, so it is
    // never used by two threads nor after disposal. Always taken before _lock.
    private readonly Lock _candidateGate = new();
    private readonly SemaphoreSlim _installGate = new(1, 1);
    private CandidateTrial? _trial;
    private JsonObject? _lastShadowReport;
    private ModelWatch? _watch;
    // Set under _lock when the active model changed; the mode is checked against its evidence after the locks.
    private (string Source, string Why)? _modelChanged;
    private bool _disposed;

    /// <summary>Validates <paramref name="options"/>; call <see cref="Start"/> before frames flow.</summary>
    public FleetAgent(FleetAgentOptions options, IInspectionStore store, ModeController modes, IInspectorHost host,
        PackageInstaller installer, IInspectorLoader loader, TimeProvider time, ILogger<FleetAgent>? log = null)
    {
        options.Validate();
        _options = options;
        _modes = modes;
        _log = (ILogger?)log ?? NullLogger.Instance;
        _slots = new ModelSlots(store, host, installer, loader);
        _audit = new FleetAuditLog(store, time, options.StatusEvents, _log);
        _modes.Changed += r => _audit.Raise([new AuditEvent(time.GetUtcNow(), "mode-change", "station", "mode", r.From.ToWire(), r.To.ToWire(), r.Reason)]);
    }

    /// <summary>Raised after every state change (outside the agent's locks), with the audited event.</summary>
    public event Action<AuditEvent>? StateChanged
    {
        add => _audit.Raised += value;
        remove => _audit.Raised -= value;
    }

    /// <summary>Hot swaps done (promotions and rollbacks).</summary>
    public long Swaps => _slots.Swaps;

    /// <summary>True while a candidate is shadowed.</summary>
    public bool HasCandidate { get { lock (_lock) return _trial is not null; } }

    /// <summary>
    /// Restores the persisted slots at start: the active slot's model replaces whatever the host holds (the profile's
    /// default model), and a candidate slot is loaded and shadowed again. A slot that no longer loads is audited.
    /// </summary>
    public void Start()
    {
        var state = _slots.State();
        var events = new List<AuditEvent>();
        var restoreFailed = false;
        lock (_lock) _slots.AdoptHostModel();
        if (state.ActiveSlot is { } active && _slots.Holds(active))
        {
            try
            {
                var inspector = _slots.Load(active);
                lock (_lock) _slots.RestoreActive(inspector, previousSlotRecorded: state.PreviousSlot is not null);
                events.Add(_audit.Append("model-restored", "service", "start", null, FleetStatusProjection.Describe(inspector, active), "active slot loaded at start"));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                events.Add(_audit.Append("model-restore-failed", "service", "start", null, active, e.Message));
                restoreFailed = true;
            }
        }
        else if (state.ActiveSlot is { } missing)
        {
            events.Add(_audit.Append("model-restore-failed", "service", "start", null, missing, $"slot {missing} is empty or its manifest unreadable; the profile's model serves"));
            restoreFailed = true;
        }
        if (state.CandidateSlot is { } cand && _slots.Holds(cand))
        {
            try
            {
                var inspector = _slots.Load(cand);
                lock (_candidateGate) lock (_lock) SetCandidate(inspector);
                events.Add(_audit.Append("candidate-restored", "service", "start", null, FleetStatusProjection.Describe(inspector, cand), "candidate slot loaded at start"));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _slots.Update(s => s.CandidateSlot = null);
                events.Add(_audit.Append("candidate-restore-failed", "service", "start", null, cand, e.Message));
            }
        }
        _audit.Raise(events);
        // The profile's model serving in place of an active slot that did not load is a model change like a rollback:
        // it must support the persisted mode. (A normal restart is no model change: a forced mode stays forced.)
        if (restoreFailed)
        {
            string? serving;
            lock (_lock) serving = FleetStatusProjection.Describe(_slots.Active, null) ?? "none";
            _modes.StepDownIfUnsupported("start", $"active slot {state.ActiveSlot} did not load, model {serving} serves");
        }
    }

    /// <summary>
    /// Installs a received archive (the package receiver's callback): verify and validate into the spare slot, load,
    /// and make it the candidate (replacing a candidate that was being shadowed). A refusal is audited and rethrown as
    /// <see cref="PackageRefusedException"/> with its code; the active model is never touched.
    /// </summary>
    public async Task<JsonNode?> InstallAsync(string archivePath, TransferOffer offer, CancellationToken cancellationToken)
    {
        if (!await _installGate.WaitAsync(TimeSpan.Zero, cancellationToken))
            throw new PackageRefusedException(RefusalCode.Busy, "another package is being installed");
        try
        {
            var work = new DeviceState();
            VerifiedPackage verified;
            IInspector inspector;
            try
            {
                var s0 = _slots.State();
                (work.ActiveSlot, work.CandidateSlot, work.PreviousSlot) = (s0.ActiveSlot, s0.CandidateSlot, s0.PreviousSlot);
                // A candidate being shadowed keeps running until the new package passed every check; the slot is
                // replaced under the agent's locks, so no promotion or rollback moves the spare slot meanwhile.
                verified = await Task.Run(() => _slots.Installer.Install(archivePath, work, offer, cancellationToken, step =>
                {
                    lock (_candidateGate) lock (_lock)
                    {
                        var now = _slots.State();
                        (work.ActiveSlot, work.CandidateSlot, work.PreviousSlot) = (now.ActiveSlot, now.CandidateSlot, now.PreviousSlot);
                        var previousBefore = work.PreviousSlot;
                        if (_trial is not null) DropCandidate();
                        step();
                        // The spare slot was the previous model's: it is no longer installed anywhere.
                        if (previousBefore is not null && work.PreviousSlot is null) _slots.ForgetPrevious();
                        _slots.Update(s =>
                        {
                            s.CandidateSlot = work.CandidateSlot;
                            s.PreviousSlot = work.PreviousSlot;
                        });
                    }
                }), cancellationToken);
                try
                {
                    inspector = _slots.LoadFolder(verified.Folder);
                }
                catch (Exception e) when (e is not OutOfMemoryException and not OperationCanceledException)
                {
                    lock (_lock) _slots.Update(s => s.CandidateSlot = null);
                    throw new PackageRefusedException(RefusalCode.LoadFailed, $"{verified.Folder}: validated but does not open as an inspector ({e.Message})");
                }
            }
            catch (PackageRefusedException e)
            {
                _audit.Raise([_audit.Append("package-refused", "fleet", "mqtt", offer.PackageId, null, $"{e.WireCode}: {e.Message}")]);
                throw;
            }
            AuditEvent installed;
            lock (_candidateGate) lock (_lock)
            {
                if (_trial is not null) DropCandidate();
                SetCandidate(inspector);
                installed = _audit.Append("package-installed", "fleet", "mqtt", offer.PackageId, FleetStatusProjection.Describe(inspector, work.CandidateSlot),
                    $"signed by key {verified.KeyId[..Math.Min(12, verified.KeyId.Length)]}; candidate shadowing beside the active model");
            }
            _audit.Raise([installed]);
            return new JsonObject
            {
                ["candidate"] = work.CandidateSlot,
                ["model"] = verified.Manifest.Name,
                ["version"] = verified.Manifest.Version,
            };
        }
        finally
        {
            _installGate.Release();
        }
    }

    /// <summary>Audits a package the transport refused before it reached <see cref="InstallAsync"/> (oversize, truncated).</summary>
    public void ReportTransferRefusal(string packageId, string code, string reason) =>
        _audit.Raise([_audit.Append("package-refused", "fleet", "mqtt", packageId, null, $"{code}: {reason}")]);

    /// <summary>Swaps the candidate in (between two frames). Without <paramref name="force"/> the gate must be met.</summary>
    public FleetActionResult Promote(string actor, string source, string? reason, bool force)
    {
        FleetActionResult result;
        var events = new List<AuditEvent>();
        // A shadow run in flight finishes first: the candidate must not be inspecting on the record stage while the
        // inspection stage starts using it.
        lock (_candidateGate) lock (_lock) result = PromoteLocked(actor, source, reason, force, events);
        _audit.Raise(events);
        CheckModeAfterModelChange();
        return result;
    }

    /// <summary>Swaps the previous model back in (between two frames).</summary>
    public FleetActionResult Rollback(string actor, string source, string? reason)
    {
        // A previous model that is not loaded (after a restart) is loaded here, outside the lock, so frames keep flowing.
        IInspector? loaded = null;
        var state = _slots.State();
        bool needLoad;
        lock (_lock) needLoad = _slots.Previous is null && state.PreviousSlot is not null;
        if (needLoad)
        {
            try { loaded = _slots.Load(state.PreviousSlot!); }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                var failed = new FleetActionResult(false, "load-failed", $"previous slot {state.PreviousSlot} does not load: {e.Message}");
                _audit.Raise([_audit.Append("rollback-refused", actor, source, null, state.PreviousSlot, failed.Reason)]);
                return failed;
            }
        }
        FleetActionResult result;
        var events = new List<AuditEvent>();
        lock (_lock)
        {
            if (loaded is not null) _slots.OfferPrevious(loaded);
            result = RollbackLocked(actor, source, reason, automatic: false, events);
        }
        _audit.Raise(events);
        CheckModeAfterModelChange();
        return result;
    }

    /// <summary>
    /// The record stage calls this after each stored part: watch of a promoted model (auto rollback), then the
    /// candidate's shadow run (rejection, auto promotion). The candidate inspects outside the lock that status waits on.
    /// </summary>
    public void OnPart(Frame frame, InspectionRecord record)
    {
        var events = new List<AuditEvent>();
        lock (_candidateGate)
        {
            CandidateTrial? trial;
            lock (_lock)
            {
                if (_disposed) return;
                _slots.DisposeRetired();
                WatchLocked(record, events);
                trial = _trial;
            }
            if (trial is not null)
            {
                var (verdict, ms) = trial.Inspect(frame, record.PartId, _log);
                lock (_lock)
                {
                    if (!_disposed && ReferenceEquals(trial, _trial)) ShadowLocked(trial, record, verdict, ms, events);
                }
            }
        }
        _audit.Raise(events);
        CheckModeAfterModelChange();
    }

    /// <summary>The status message's fleet part: mode, slots and versions, model state, candidate and watch, last events.</summary>
    public JsonObject Status()
    {
        var state = _slots.State();
        lock (_lock) return FleetStatusProjection.Status(_modes.Current, state, _slots, _trial, _watch, _audit.Recent());
    }

    /// <summary>The shadow report: the active model against the human (gate evidence) and the candidate's three-way statistics.</summary>
    public JsonObject ShadowReport()
    {
        var (paired, agreed) = _modes.Evidence;
        lock (_lock)
        {
            return FleetStatusProjection.ShadowReport(_slots.Active, paired, agreed, _trial, _trial?.Shadow.GateProblem(_options.Promotion), _lastShadowReport);
        }
    }

    /// <summary>
    /// Registers the fleet commands (<see cref="FleetCommandHandlers"/>); rebirth only when <paramref name="rebirth"/> is
    /// given; remote mode changes capped by <paramref name="keySwitch"/> where the station has one.
    /// </summary>
    public void RegisterCommands(CommandProcessor processor, Func<CancellationToken, Task<bool>>? rebirth = null, Io.IModeKeyPosition? keySwitch = null)
    {
        FleetCommandHandlers.Register(processor, this, _modes, rebirth, keySwitch);
        PackageTrustCommands.Register(processor, _slots.Installer, (kind, actor, from, to, reason) =>
            _audit.Raise([_audit.Append(kind, actor, "mqtt", from, to, reason)]));
    }

    /// <summary>Key ids this device no longer trusts (config and <c>revoke-key</c>); command verification consults them too.</summary>
    public EdgeInspect.Fleet.Protocol.Signing.KeyRevocations Revocations => _slots.Installer.RevokedKeys.Revocations;

    /// <summary>Checks an offer before any chunk is taken (statement, revocation, floor); throws <see cref="PackageRefusedException"/>.</summary>
    public void CheckOffer(TransferOffer offer) => _slots.Installer.CheckOffer(offer);

    /// <summary>Disposes the candidate, the previous and retired models (waiting for a shadow run in flight); not the active one.</summary>
    public void Dispose()
    {
        lock (_candidateGate) lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            _trial = null;
            _slots.Dispose();
        }
        _installGate.Dispose();
    }

    private void WatchLocked(InspectionRecord record, List<AuditEvent> events)
    {
        if (_watch is null || !AutomationPolicy.RunsModel(record.Mode)) return;
        _watch.Add(record.ModelVerdict is null, record.Agreement, record.LatencyMs.TryGetValue("total", out var ms) ? ms : 0);
        if (_watch.Breach() is { } breach)
        {
            if (_options.Rollback.Auto) RollbackLocked("station", "auto-rollback", breach, automatic: true, events);
            else
            {
                events.Add(_audit.Append("rollback-limit-crossed", "station", "watch", null, null, breach + " (Fleet:Rollback:Auto is off)"));
                _watch = null;
            }
        }
        else if (_watch.Parts >= _options.Rollback.WatchParts)
        {
            events.Add(_audit.Append("model-settled", "station", "watch", null, FleetStatusProjection.Describe(_slots.Active, _slots.State().ActiveSlot),
                $"watched for {_watch.Parts} parts within the limits"));
            _watch = null;
        }
    }

    private void ShadowLocked(CandidateTrial trial, InspectionRecord record, Verdict? verdict, double ms, List<AuditEvent> events)
    {
        if (trial.Add(record, verdict, ms) is { } breach)
        {
            events.Add(_audit.Append("candidate-rejected", "station", "shadow", FleetStatusProjection.Describe(trial.Inspector, _slots.State().CandidateSlot), null, breach));
            DropCandidate();
            _slots.Update(s => s.CandidateSlot = null);
        }
        else if (_options.Promotion.Auto && trial.Shadow.GateProblem(_options.Promotion) is null)
        {
            PromoteLocked("station", "auto-promote", "promotion gate met", force: false, events);
        }
    }

    private FleetActionResult PromoteLocked(string actor, string source, string? reason, bool force, List<AuditEvent> events)
    {
        var state = _slots.State();
        if (_trial is null)
        {
            var no = new FleetActionResult(false, "no-candidate", "no candidate model is installed");
            events.Add(_audit.Append("promote-refused", actor, source, null, null, no.Reason));
            return no;
        }
        if (_slots.PromotionRefusal() is { } floor)
        {
            events.Add(_audit.Append("promote-refused", actor, source, null, FleetStatusProjection.Describe(_trial.Inspector, state.CandidateSlot), floor));
            return new FleetActionResult(false, PackageRefusedException.ToWire(RefusalCode.LowerVersion), floor);
        }
        var gate = _trial.Shadow.GateProblem(_options.Promotion);
        if (gate is not null && !force)
        {
            events.Add(_audit.Append("promote-refused", actor, source, null, FleetStatusProjection.Describe(_trial.Inspector, state.CandidateSlot), gate));
            return new FleetActionResult(false, "gate-not-met", gate);
        }
        var from = FleetStatusProjection.Describe(_slots.Active, state.ActiveSlot);
        var to = FleetStatusProjection.Describe(_trial.Inspector, state.CandidateSlot);
        // The candidate's own agreement with the human, measured on live parts beside the active model, becomes the
        // gate evidence of the model it now is; the old model's evidence stays with the old model.
        var shadow = _trial.Shadow;
        _modes.CarryEvidence(_trial.Inspector.ModelName, _trial.Inspector.ModelVersion, shadow.PairedWithHuman, shadow.CandidateAgreesHuman);
        _slots.Promote();
        _lastShadowReport = shadow.ToJson();
        _trial = null;
        _modelChanged = (source, $"model {to} promoted");
        _watch = new ModelWatch(_options.Rollback);
        var why = gate is null ? "gate met" : $"forced past the gate ({gate})";
        events.Add(_audit.Append("model-promoted", actor, source, from, to, $"{reason} | {why}"));
        return new FleetActionResult(true, null, why);
    }

    private FleetActionResult RollbackLocked(string actor, string source, string? reason, bool automatic, List<AuditEvent> events)
    {
        var state = _slots.State();
        if (_slots.Previous is null)
        {
            var no = new FleetActionResult(false, "no-previous", "no previous model to roll back to");
            events.Add(_audit.Append("rollback-refused", actor, source, null, null, no.Reason));
            _watch = null;
            return no;
        }
        var from = FleetStatusProjection.Describe(_slots.Active, state.ActiveSlot);
        var to = FleetStatusProjection.Describe(_slots.Previous, state.PreviousSlot);
        _slots.Rollback();
        _watch = null;
        _modelChanged = (source, $"rolled back to model {to}");
        events.Add(_audit.Append(automatic ? "model-auto-rollback" : "model-rolled-back", actor, source, from, to, reason));
        return new FleetActionResult(true, null, reason ?? "rolled back");
    }

    /// <summary>After the locks: a model change that left the mode without the new model's evidence steps the mode down.</summary>
    private void CheckModeAfterModelChange()
    {
        (string Source, string Why)? changed;
        lock (_lock)
        {
            changed = _modelChanged;
            _modelChanged = null;
        }
        if (changed is { } c) _modes.StepDownIfUnsupported(c.Source, c.Why);
    }

    private void SetCandidate(IInspector inspector)
    {
        _slots.SetCandidate(inspector);
        _trial = new CandidateTrial(inspector, _options.Rollback);
    }

    /// <summary>Only under both locks: no shadow run can be using the candidate, so it is disposed at once.</summary>
    private void DropCandidate()
    {
        if (_trial is not null) _lastShadowReport = _trial.Shadow.ToJson();
        _slots.DropCandidate();
        _trial = null;
    }
}
