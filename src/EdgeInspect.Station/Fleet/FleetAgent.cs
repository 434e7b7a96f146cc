using System.Diagnostics;
using System.Text.Json.Nodes;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Fleet;
using EdgeInspect.Core.Fleet.Commands;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Core.Packages.Transfer;
using EdgeInspect.Core.Shadow;
using EdgeInspect.Core.Storage;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Pipeline;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeInspect.Station.Fleet;

/// <summary>Opens an installed package folder as an inspector (ONNX Runtime on a device; anything in tests).</summary>
public interface IInspectorLoader
{
    IInspector Load(string packageFolder);
}

/// <summary>The outcome of promote / rollback: done, or refused with a stable code and a reason.</summary>
public sealed record FleetActionResult(bool Done, string? Code, string Reason);

/// <summary>
/// The station's side of fleet control (issue 6). Transport-free: the MQTT glue hands it command contexts and received
/// archives. What it owns:
/// <list type="bullet">
/// <item>install: a received archive is verified and validated by <see cref="PackageInstaller"/> into the spare slot,
/// loaded, and becomes the candidate;</item>
/// <item>three-way shadow: as an <see cref="IPartObserver"/> it runs the candidate on every live part after the
/// active model's record is stored (human, active, candidate; <see cref="CandidateShadow"/>), on the inspection
/// thread, so the candidate never decides a part;</item>
/// <item>promote (gate met with <see cref="PromotionOptions.Auto"/>, or on command): the candidate goes in through
/// <see cref="IInspectorHost.Swap"/>, which takes effect between two frames; the replaced model stays loaded as the
/// previous one, so a rollback is the same atomic swap the other way;</item>
/// <item>rollback (on command, or when <see cref="ModelWatch"/> sees a promoted model cross the limits);</item>
/// <item>an <see cref="AuditEvent"/> in the store for every state change, raised on <see cref="StateChanged"/> so the
/// transport publishes it and refreshes the status message.</item>
/// </list>
/// An inspector that has been in the host is disposed only from <see cref="OnPart"/> (the inspection thread, after its
/// frame is done), never while a frame may be using it.
/// </summary>
public sealed class FleetAgent : IPartObserver, IDisposable
{
    private readonly FleetAgentOptions _options;
    private readonly IInspectionStore _store;
    private readonly ModeController _modes;
    private readonly IInspectorHost _host;
    private readonly PackageInstaller _installer;
    private readonly IInspectorLoader _loader;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _installGate = new(1, 1);
    private readonly List<IInspector> _retired = [];
    private readonly LinkedList<AuditEvent> _recent = new();
    private IInspector? _candidate;
    private IInspector? _previous;
    private CandidateShadow? _shadow;
    private JsonObject? _lastShadowReport;
    private ModelWatch? _candidateWatch;
    private ModelWatch? _watch;
    private long _swaps;
    private bool _disposed;

    public FleetAgent(FleetAgentOptions options, IInspectionStore store, ModeController modes, IInspectorHost host,
        PackageInstaller installer, IInspectorLoader loader, TimeProvider time, ILogger<FleetAgent>? log = null)
    {
        options.Validate();
        _options = options;
        _store = store;
        _modes = modes;
        _host = host;
        _installer = installer;
        _loader = loader;
        _time = time;
        _log = (ILogger?)log ?? NullLogger.Instance;
        _modes.Changed += r => StateChanged?.Invoke(new AuditEvent(_time.GetUtcNow(), "mode-change", "station", "mode", r.From.ToWire(), r.To.ToWire(), r.Reason));
    }

    /// <summary>Raised after every state change (outside the agent's lock), with the audited event.</summary>
    public event Action<AuditEvent>? StateChanged;

    /// <summary>Hot swaps done (promotions and rollbacks).</summary>
    public long Swaps => Interlocked.Read(ref _swaps);

    public bool HasCandidate { get { lock (_lock) return _candidate is not null; } }

    /// <summary>
    /// Restores the persisted slots at start: the active slot's model replaces whatever the host holds (the profile's
    /// default model), and a candidate slot is loaded and shadowed again. A slot that no longer loads is audited.
    /// </summary>
    public void Start()
    {
        var state = _store.LoadState();
        var events = new List<AuditEvent>();
        if (state.ActiveSlot is { } active && _installer.VersionIn(active) is not null)
        {
            try
            {
                var inspector = _loader.Load(_installer.SlotPath(active));
                lock (_lock)
                {
                    // The model the host held (the profile's) was the previous one only if no slot is recorded as
                    // previous; otherwise a rollback loads the previous slot.
                    if (_host.Swap(inspector) is { } old)
                    {
                        if (state.PreviousSlot is null) _previous = old;
                        else Retire(old);
                    }
                }
                events.Add(Audit("model-restored", "service", "start", null, Describe(inspector, active), "active slot loaded at start"));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                events.Add(Audit("model-restore-failed", "service", "start", null, active, e.Message));
            }
        }
        else if (state.ActiveSlot is { } missing)
        {
            events.Add(Audit("model-restore-failed", "service", "start", null, missing, $"slot {missing} is empty or its manifest unreadable; the profile's model serves"));
        }
        if (state.CandidateSlot is { } cand && _installer.VersionIn(cand) is not null)
        {
            try
            {
                var inspector = _loader.Load(_installer.SlotPath(cand));
                lock (_lock) SetCandidate(inspector);
                events.Add(Audit("candidate-restored", "service", "start", null, Describe(inspector, cand), "candidate slot loaded at start"));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                UpdateSlots(s => s.CandidateSlot = null);
                events.Add(Audit("candidate-restore-failed", "service", "start", null, cand, e.Message));
            }
        }
        Raise(events);
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
            var events = new List<AuditEvent>();
            try
            {
                var s0 = _store.LoadState();
                (work.ActiveSlot, work.CandidateSlot, work.PreviousSlot) = (s0.ActiveSlot, s0.CandidateSlot, s0.PreviousSlot);
                // A candidate being shadowed keeps running until the new package passed every check; the slot is
                // replaced under the agent's lock, so no promotion or rollback moves the spare slot meanwhile.
                verified = await Task.Run(() => _installer.Install(archivePath, work, offer.Rollback, cancellationToken, step =>
                {
                    lock (_lock)
                    {
                        var now = _store.LoadState();
                        (work.ActiveSlot, work.CandidateSlot, work.PreviousSlot) = (now.ActiveSlot, now.CandidateSlot, now.PreviousSlot);
                        var previousBefore = work.PreviousSlot;
                        if (_candidate is not null) DropCandidate();
                        step();
                        if (previousBefore is not null && work.PreviousSlot is null && _previous is not null)
                        {
                            // The spare slot was the previous model's: it is no longer installed anywhere.
                            Retire(_previous);
                            _previous = null;
                        }
                        UpdateSlots(s =>
                        {
                            s.CandidateSlot = work.CandidateSlot;
                            s.PreviousSlot = work.PreviousSlot;
                        });
                    }
                }), cancellationToken);
                try
                {
                    inspector = _loader.Load(verified.Folder);
                }
                catch (Exception e) when (e is not OutOfMemoryException and not OperationCanceledException)
                {
                    lock (_lock) UpdateSlots(s => s.CandidateSlot = null);
                    throw new PackageRefusedException(RefusalCode.LoadFailed, $"{verified.Folder}: validated but does not open as an inspector ({e.Message})");
                }
            }
            catch (PackageRefusedException e)
            {
                Raise([Audit("package-refused", "fleet", "mqtt", offer.PackageId, null, $"{e.WireCode}: {e.Message}")]);
                throw;
            }
            lock (_lock)
            {
                if (_candidate is not null) DropCandidate();
                SetCandidate(inspector);
                events.Add(Audit("package-installed", "fleet", "mqtt", offer.PackageId, Describe(inspector, work.CandidateSlot),
                    $"signed by key {verified.KeyId[..Math.Min(12, verified.KeyId.Length)]}; candidate shadowing beside the active model"));
            }
            Raise(events);
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
        Raise([Audit("package-refused", "fleet", "mqtt", packageId, null, $"{code}: {reason}")]);

    /// <summary>Swaps the candidate in (between two frames). Without <paramref name="force"/> the gate must be met.</summary>
    public FleetActionResult Promote(string actor, string source, string? reason, bool force)
    {
        FleetActionResult result;
        var events = new List<AuditEvent>();
        lock (_lock) result = PromoteLocked(actor, source, reason, force, events);
        Raise(events);
        return result;
    }

    /// <summary>Swaps the previous model back in (between two frames).</summary>
    public FleetActionResult Rollback(string actor, string source, string? reason)
    {
        // A previous model that is not loaded (after a restart) is loaded here, outside the lock, so frames keep flowing.
        IInspector? loaded = null;
        var state = _store.LoadState();
        bool needLoad;
        lock (_lock) needLoad = _previous is null && state.PreviousSlot is not null;
        if (needLoad)
        {
            try { loaded = _loader.Load(_installer.SlotPath(state.PreviousSlot!)); }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                var failed = new FleetActionResult(false, "load-failed", $"previous slot {state.PreviousSlot} does not load: {e.Message}");
                Raise([Audit("rollback-refused", actor, source, null, state.PreviousSlot, failed.Reason)]);
                return failed;
            }
        }
        FleetActionResult result;
        var events = new List<AuditEvent>();
        lock (_lock)
        {
            if (loaded is not null)
            {
                if (_previous is null) _previous = loaded;
                else loaded.Dispose();
            }
            result = RollbackLocked(actor, source, reason, automatic: false, events);
        }
        Raise(events);
        return result;
    }

    /// <summary>The inspection stage calls this after each stored part: candidate shadow, watch, auto promote / rollback.</summary>
    public void OnPart(Frame frame, InspectionRecord record)
    {
        var events = new List<AuditEvent>();
        lock (_lock)
        {
            if (_disposed) return;
            // Every frame that could have been using a retired inspector is done by now (this is the same thread).
            foreach (var r in _retired) r.Dispose();
            _retired.Clear();

            if (_watch is not null && AutomationPolicy.RunsModel(record.Mode))
            {
                bool failed = record.ModelVerdict is null;
                _watch.Add(failed, record.Agreement, record.LatencyMs.TryGetValue("total", out var ms) ? ms : 0);
                if (_watch.Breach() is { } breach)
                {
                    if (_options.Rollback.Auto) RollbackLocked("station", "auto-rollback", breach, automatic: true, events);
                    else
                    {
                        events.Add(Audit("rollback-limit-crossed", "station", "watch", null, null, breach + " (Fleet:Rollback:Auto is off)"));
                        _watch = null;
                    }
                }
                else if (_watch is not null && _watch.Parts >= _options.Rollback.WatchParts)
                {
                    events.Add(Audit("model-settled", "station", "watch", null, Describe(_host.Current, _store.LoadState().ActiveSlot), $"watched for {_watch.Parts} parts within the limits"));
                    _watch = null;
                }
            }

            if (_candidate is not null)
            {
                Verdict? verdict = null;
                var start = Stopwatch.GetTimestamp();
                try { verdict = _candidate.Inspect(frame).Verdict; }
                catch (Exception e) when (e is not OutOfMemoryException) { _log.LogDebug("candidate failed on part {Part}: {Error}", record.PartId, e.Message); }
                var ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                _shadow!.Add(record.HumanVerdict, record.ModelVerdict, verdict, ms);
                _candidateWatch!.Add(verdict is null, record.HumanVerdict is { } h && verdict is { } v ? h == v : null, ms);
                if (_candidateWatch.Breach() is { } breach)
                {
                    events.Add(Audit("candidate-rejected", "station", "shadow", Describe(_candidate, _store.LoadState().CandidateSlot), null, breach));
                    DropCandidate();
                    UpdateSlots(s => s.CandidateSlot = null);
                }
                else if (_options.Promotion.Auto && _shadow.GateProblem(_options.Promotion) is null)
                {
                    PromoteLocked("station", "auto-promote", "promotion gate met", force: false, events);
                }
            }
        }
        Raise(events);
    }

    /// <summary>The status message's fleet part: mode, slots and versions, model state, candidate and watch, last events.</summary>
    public JsonObject Status()
    {
        var state = _store.LoadState();
        lock (_lock)
        {
            var current = _host.Current;
            return new JsonObject
            {
                ["mode"] = _modes.Current.ToWire(),
                ["modelState"] = current is null ? "no-model" : _candidate is not null ? "candidate-shadow" : _watch is not null ? "watching" : "serving",
                ["active"] = Slot(state.ActiveSlot, current),
                ["candidate"] = _candidate is null ? null : Slot(state.CandidateSlot, _candidate),
                ["previous"] = _previous is null && state.PreviousSlot is null ? null : Slot(state.PreviousSlot, _previous),
                ["swaps"] = Swaps,
                ["shadow"] = _shadow?.ToJson(),
                ["watch"] = _watch?.ToJson(),
                ["lastEvents"] = new JsonArray([.. _recent.Select(e => (JsonNode)EventJson(e))]),
            };
        }
    }

    /// <summary>The shadow report: the active model against the human (gate evidence) and the candidate's three-way statistics.</summary>
    public JsonObject ShadowReport()
    {
        var (paired, agreed) = _modes.Evidence;
        lock (_lock)
        {
            return new JsonObject
            {
                ["active"] = new JsonObject
                {
                    ["model"] = _host.Current?.ModelName,
                    ["version"] = _host.Current?.ModelVersion,
                    ["paired"] = paired,
                    ["agreements"] = agreed,
                    ["agreement"] = paired == 0 ? 0 : Math.Round((double)agreed / paired, 4),
                    ["lowerBound"] = Math.Round(Wilson.LowerBound(agreed, paired), 4),
                },
                ["candidate"] = _shadow is null ? null : new JsonObject
                {
                    ["model"] = _candidate?.ModelName,
                    ["version"] = _candidate?.ModelVersion,
                    ["stats"] = _shadow.ToJson(),
                    ["gate"] = _shadow.GateProblem(_options.Promotion) ?? "met",
                },
                ["lastCandidate"] = _lastShadowReport?.DeepClone(),
            };
        }
    }

    /// <summary>
    /// Registers set-mode, status, shadow-report, promote, rollback and (when <paramref name="rebirth"/> is given) rebirth.
    /// Refusals are <see cref="CommandException"/>s, answered with their code and reason.
    /// </summary>
    public void RegisterCommands(CommandProcessor processor, Func<CancellationToken, Task<bool>>? rebirth = null)
    {
        processor.Register("set-mode", (c, _) =>
        {
            var wanted = c.RequiredString("mode", 16);
            if (!AutomationModes.TryParse(wanted, out var mode))
                throw new CommandException("bad-args", $"set-mode: args.mode '{wanted}' is not a mode (human, shadow, assist, partial, full)");
            var r = _modes.TrySetMode(mode, c.Actor, "mqtt", c.OptionalString("reason", 512), c.OptionalBool("force"));
            if (!r.Changed) throw new CommandException("refused", r.Reason);
            return ValueTask.FromResult<JsonNode?>(new JsonObject { ["from"] = r.From.ToWire(), ["to"] = r.To.ToWire(), ["reason"] = r.Reason });
        });
        processor.Register("status", (_, _) => ValueTask.FromResult<JsonNode?>(Status()));
        processor.Register("shadow-report", (_, _) => ValueTask.FromResult<JsonNode?>(ShadowReport()));
        processor.Register("promote", (c, _) => Answer(Promote(c.Actor, "mqtt", c.OptionalString("reason", 512) ?? "promote command", c.OptionalBool("force"))));
        processor.Register("rollback", (c, _) => Answer(Rollback(c.Actor, "mqtt", c.OptionalString("reason", 512) ?? "rollback command")));
        if (rebirth is not null)
        {
            processor.Register("rebirth", async (_, ct) =>
            {
                var ok = await rebirth(ct);
                if (!ok) throw new CommandException("unavailable", "the status message could not be published");
                return new JsonObject { ["republished"] = true };
            });
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var r in _retired) r.Dispose();
            _retired.Clear();
            _candidate?.Dispose();
            _candidate = null;
            _previous?.Dispose();
            _previous = null;
        }
        _installGate.Dispose();
    }

    private ValueTask<JsonNode?> Answer(FleetActionResult r)
    {
        if (!r.Done) throw new CommandException(r.Code ?? "refused", r.Reason);
        return ValueTask.FromResult<JsonNode?>(new JsonObject { ["reason"] = r.Reason, ["status"] = Status() });
    }

    private FleetActionResult PromoteLocked(string actor, string source, string? reason, bool force, List<AuditEvent> events)
    {
        var state = _store.LoadState();
        if (_candidate is null)
        {
            var no = new FleetActionResult(false, "no-candidate", "no candidate model is installed");
            events.Add(Audit("promote-refused", actor, source, null, null, no.Reason));
            return no;
        }
        var gate = _shadow!.GateProblem(_options.Promotion);
        if (gate is not null && !force)
        {
            var refused = new FleetActionResult(false, "gate-not-met", gate);
            events.Add(Audit("promote-refused", actor, source, null, Describe(_candidate, state.CandidateSlot), gate));
            return refused;
        }
        var from = Describe(_host.Current, state.ActiveSlot);
        var to = Describe(_candidate, state.CandidateSlot);
        // The swap: the inspection stage reads the host once per frame, so this lands between two frames.
        var old = _host.Swap(_candidate);
        Interlocked.Increment(ref _swaps);
        if (_previous is not null) Retire(_previous);
        _previous = old;
        _candidate = null;
        _lastShadowReport = _shadow.ToJson();
        _shadow = null;
        _candidateWatch = null;
        _watch = new ModelWatch(_options.Rollback);
        UpdateSlots(s =>
        {
            s.PreviousSlot = s.ActiveSlot;
            s.ActiveSlot = s.CandidateSlot;
            s.CandidateSlot = null;
        });
        var why = gate is null ? "gate met" : $"forced past the gate ({gate})";
        events.Add(Audit("model-promoted", actor, source, from, to, $"{reason} | {why}"));
        return new FleetActionResult(true, null, why);
    }

    private FleetActionResult RollbackLocked(string actor, string source, string? reason, bool automatic, List<AuditEvent> events)
    {
        var state = _store.LoadState();
        if (_previous is null)
        {
            var no = new FleetActionResult(false, "no-previous", "no previous model to roll back to");
            events.Add(Audit("rollback-refused", actor, source, null, null, no.Reason));
            _watch = null;
            return no;
        }
        var from = Describe(_host.Current, state.ActiveSlot);
        var to = Describe(_previous, state.PreviousSlot);
        // The same swap as a promotion; the model rolled back from stays loaded as the previous one.
        _previous = _host.Swap(_previous);
        Interlocked.Increment(ref _swaps);
        _watch = null;
        UpdateSlots(s => (s.ActiveSlot, s.PreviousSlot) = (s.PreviousSlot, s.ActiveSlot));
        events.Add(Audit(automatic ? "model-auto-rollback" : "model-rolled-back", actor, source, from, to, reason));
        return new FleetActionResult(true, null, reason ?? "rolled back");
    }

    private void SetCandidate(IInspector inspector)
    {
        _candidate = inspector;
        _shadow = new CandidateShadow();
        _candidateWatch = new ModelWatch(_options.Rollback);
    }

    /// <summary>The candidate is only ever used under the lock, so it can be disposed at once.</summary>
    private void DropCandidate()
    {
        if (_shadow is not null) _lastShadowReport = _shadow.ToJson();
        _candidate?.Dispose();
        _candidate = null;
        _shadow = null;
        _candidateWatch = null;
    }

    private void Retire(IInspector inspector)
    {
        if (!_retired.Contains(inspector)) _retired.Add(inspector);
    }

    /// <summary>Re-reads the state and changes only the slot fields, so a mode or sequence saved meanwhile is kept.</summary>
    private void UpdateSlots(Action<DeviceState> change)
    {
        var s = _store.LoadState();
        change(s);
        _store.SaveState(s);
    }

    private AuditEvent Audit(string kind, string actor, string source, string? from, string? to, string? reason)
    {
        var e = new AuditEvent(_time.GetUtcNow(), kind, actor, source, from, to, reason);
        _store.AppendAudit(e);
        lock (_recent)
        {
            _recent.AddFirst(e);
            while (_recent.Count > _options.StatusEvents) _recent.RemoveLast();
        }
        _log.LogInformation("fleet: {Kind} {From} -> {To} by {Actor} ({Reason})", kind, from, to, actor, reason);
        return e;
    }

    private void Raise(List<AuditEvent> events)
    {
        foreach (var e in events)
        {
            try { StateChanged?.Invoke(e); }
            catch (Exception ex) when (ex is not OutOfMemoryException) { _log.LogWarning("fleet event handler failed: {Error}", ex.Message); }
        }
    }

    private static string? Describe(IInspector? inspector, string? slot) =>
        inspector is null ? slot : $"{inspector.ModelName} v{inspector.ModelVersion}" + (slot is null ? "" : $" (slot {slot})");

    private static JsonObject Slot(string? slot, IInspector? inspector) => new()
    {
        ["slot"] = slot,
        ["model"] = inspector?.ModelName,
        ["version"] = inspector?.ModelVersion,
        ["loaded"] = inspector is not null,
    };

    public static JsonObject EventJson(AuditEvent e) => new()
    {
        ["at"] = e.At.ToString("O", System.Globalization.CultureInfo.InvariantCulture),
        ["kind"] = e.Kind,
        ["actor"] = e.Actor,
        ["source"] = e.Source,
        ["from"] = e.From,
        ["to"] = e.To,
        ["reason"] = e.Reason,
    };
}

/// <summary>
/// Opens an installed package with the device's inference runtime and image operations: each inspector gets image
/// operations of its own (it owns and disposes them), because the active model and a shadowed candidate inspect on
/// different threads (inspection and record stages) and image operations are single-caller.
/// </summary>
public sealed class PackageInspectorLoader(Core.Inference.INetworkFactory factory, Core.Inference.InferenceOptions options, Func<IImageOps> imageOps) : IInspectorLoader
{
    public IInspector Load(string packageFolder)
    {
        var ops = imageOps();
        try
        {
            return PackageInspector.Open(Core.Packages.ModelPackage.Open(packageFolder), factory, options, ops, ownsImageOps: true);
        }
        catch
        {
            (ops as IDisposable)?.Dispose();
            throw;
        }
    }
}
