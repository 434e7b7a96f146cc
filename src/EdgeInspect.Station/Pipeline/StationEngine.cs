using System.Diagnostics;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Storage;
using EdgeInspect.Core.Telemetry;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Capture;
using EdgeInspect.Station.VirtualLine;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeInspect.Station.Pipeline;

/// <summary>
/// One part through the station: model (per mode), human pairing, automation policy, actuation, record.
/// Two steps: <see cref="Decide"/> on the inspection stage's thread, <see cref="Commit"/> on the record stage's
/// (group commit off the inspection path); <see cref="Process"/> does both, synchronously, for tests and tools.
/// <para>
/// Every part gets a record: a part with no usable image, a model that throws, or a reject output that fails is
/// recorded as fail-safe NG with the reason, counted, and logged (at most once per kind per 10 s); the station goes
/// on with the next part.
/// </para>
/// <para>
/// While the store refuses records (a failed group commit, until one succeeds) every part is decided fail-safe NG
/// ("store not writable"), counted: a part whose record may not be kept is not passed as good. Its record is still
/// offered to the store, so it is kept once the store writes again.
/// </para>
/// </summary>
public sealed class StationEngine(
    StationOptions options,
    IInspectorHost inspectors,
    ModeController modes,
    IInspectionStore store,
    IStationOutputs outputs,
    IHumanVerdictSource? human,
    TimeProvider time,
    ITelemetryRecorder? telemetry = null,
    IEnumerable<IPartObserver>? observers = null,
    ILogger? log = null,
    PartImageCapture? capture = null)
{
    private readonly IPartObserver[] _observers = observers?.ToArray() ?? [];
    private readonly AuditSampler _audit = new(options.AuditSampleRate, options.AuditSampleSeed);

    // The store moves its high-water mark in the same transaction as the records, so the persisted state alone says
    // where to go on (start-up reads no records, whatever the store's size) and a number is never handed out twice.
    private long _sequence = store.LoadState().LastSequence;

    /// <summary>Which stage is working and since when (the systemd watchdog's health signal).</summary>
    public PipelineHeartbeat Heartbeat { get; } = new(time);

    /// <summary>Fault lines, rate-limited per kind.</summary>
    public FaultLog Faults { get; } = new(log ?? NullLogger.Instance, time);

    public StationCounters Counters { get; } = new();

    private volatile string? _storeFailure;

    /// <summary>
    /// Records of parts the store refused with an I/O error (a full disk), oldest first, stored before the next parts once it writes
    /// again: each part keeps its record and its number, so the sequence has no gap. Bounded: past
    /// <see cref="MaxUnstoredRecords"/> the oldest are dropped, counted in <see cref="StationCounters.StoreDropped"/>.
    /// Touched only by the record stage's one thread.
    /// </summary>
    private readonly Queue<InspectionRecord> _unstored = new();

    /// <summary>About 10 MB of records: hours of a full disk at a few parts per second.</summary>
    public const int MaxUnstoredRecords = 10_000;

    /// <summary>Records held for the store while it refuses writes.</summary>
    public int UnstoredRecords => _unstored.Count;

    /// <summary>The sequence range of the records held (for the log), e.g. "sequence 120..131"; empty when none.</summary>
    public string UnstoredSequences => _unstored.Count == 0 ? "" : $"sequence {_unstored.Peek().Sequence}..{_unstored.Last().Sequence}";

    /// <summary>False from a failed group commit until one succeeds.</summary>
    public bool StoreWritable => _storeFailure is null;

    /// <summary>
    /// Healthy: no stage busy for <paramref name="stallLimit"/> or longer, and the store writing (what the "station ready"
    /// output and the readiness check report).
    /// </summary>
    public bool IsHealthy(TimeSpan stallLimit) => StoreWritable && Heartbeat.IsHealthy(stallLimit);

    /// <summary>The host the model is read from per frame (the fleet agent swaps models through it).</summary>
    public IInspectorHost Inspectors => inspectors;

    /// <summary>What sees each part after its record is stored (the fleet agent's candidate shadow and model watch).</summary>
    public IReadOnlyList<IPartObserver> Observers => _observers;

    /// <summary>Where frame, part and latency figures go (the null recorder when the station has no telemetry).</summary>
    public ITelemetryRecorder Telemetry { get; } = telemetry ?? NullTelemetryRecorder.Instance;

    /// <summary>The part-image capture, when the profile enables it.</summary>
    public PartImageCapture? ImageCapture => capture;

    /// <summary>One part, start to stored record, on the calling thread: <see cref="Decide"/> then <see cref="Commit"/>.</summary>
    public InspectionRecord Process(Frame frame)
    {
        var part = Decide(frame);
        Commit([part]);
        return part.Record;
    }

    /// <summary>
    /// Model (per mode), human pairing, policy and actuation for one part, and its numbered record, not yet stored.
    /// The reject output has fired when this returns; <see cref="Commit"/> makes the record durable.
    /// Single-threaded (the inspection stage): sequence numbers follow the order parts are decided in.
    /// </summary>
    public DecidedPart Decide(Frame frame)
    {
        ArgumentNullException.ThrowIfNull(frame);
        var mode = modes.Current;
        var start = Stopwatch.GetTimestamp();
        Core.Inspection.InspectionResult? result = null;
        string? failReason = null;
        var inspector = inspectors.Current;
        if (frame.Fault is { } fault)
        {
            failReason = fault;
            Interlocked.Increment(ref Counters.ImageFaults);
            Faults.Fault("image", $"part {frame.PartId}: {fault}");
        }
        else if (AutomationPolicy.RunsModel(mode))
        {
            if (inspector is null) failReason = "no model installed";
            else
            {
                try { result = inspector.Inspect(frame); }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    failReason = "model failed: " + e.Message;
                    Interlocked.Increment(ref Counters.ModelFaults);
                    Faults.Fault("model", $"part {frame.PartId}: {failReason}", e);
                }
            }
        }

        var decision = AutomationPolicy.Decide(mode, result is not null && result.Confidence >= options.PartialConfidence);
        // Audit sampling: a part the model would decide goes to the human instead, decided as in assist, so the
        // model's agreement keeps being measured in partial and full (the model watch sees its wrong verdicts).
        if (decision.ModelActuates && result is not null && _audit.Next())
        {
            decision = AutomationPolicy.Decide(AutomationMode.Assist, confidentEnough: true);
            Interlocked.Increment(ref Counters.AuditSampled);
        }

        // Human pairing: the inspector's button press for this part (GPIO at a station, simulated on the virtual
        // line). Only a mode where the human decides waits for it; otherwise a press already made is still paired.
        // A part with no image is not shown to anyone: it fails safe without waiting.
        HumanPress? press = frame.Fault is null ? human?.Judge(frame, decision.WaitForHuman ? options.HumanWindow : TimeSpan.Zero) : null;
        Verdict verdict;
        VerdictSource source;
        if (decision.ModelActuates && result is not null) { verdict = result.Verdict; source = VerdictSource.Model; }
        else if (decision.WaitForHuman && press is { } p) { verdict = p.Verdict; source = VerdictSource.Human; }
        else
        {
            // Nobody could decide: fail safe as NG (ARCHITECTURE.md: a triggered part is never dropped silently).
            verdict = Verdict.Ng; source = VerdictSource.FailSafe;
            failReason ??= decision.WaitForHuman ? "no human verdict within the part's window" : "model gave no verdict";
        }

        if (_storeFailure is { } storeFailure && source != VerdictSource.FailSafe)
        {
            verdict = Verdict.Ng; source = VerdictSource.FailSafe;
            failReason = "store not writable: " + storeFailure;
            Interlocked.Increment(ref Counters.StoreFailSafeParts);
            Faults.Fault("store-failsafe", $"part {frame.PartId}: decided fail-safe NG, the store is not writable ({storeFailure})");
        }

        // Only the model (or a fail safe in a model-driven mode) fires the reject output; in human, shadow and
        // assist the inspector handles the part, so the output never fires there.
        bool modelDriven = mode is AutomationMode.Partial or AutomationMode.Full;
        if (verdict == Verdict.Ng && (source == VerdictSource.Model || (source == VerdictSource.FailSafe && modelDriven)))
        {
            try
            {
                outputs.Reject(frame.PartId);
                Interlocked.Increment(ref Counters.Rejects);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // An NG part that was not pushed off went on down the line: its record must say so.
                source = VerdictSource.FailSafe;
                failReason = "reject output failed: " + e.Message + (failReason is null ? "" : "; " + failReason);
                Interlocked.Increment(ref Counters.RejectFaults);
                Faults.Fault("reject", $"part {frame.PartId}: {failReason}", e);
            }
        }

        double totalMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        var latency = new Dictionary<string, double>(result?.LatencyMs ?? new Dictionary<string, double>()) { ["total"] = totalMs };
        var record = new InspectionRecord
        {
            DeviceId = options.DeviceId,
            Station = options.Station,
            Sequence = ++_sequence,
            PartId = frame.PartId,
            CapturedAt = frame.CapturedAt,
            DecidedAt = time.GetUtcNow(),
            Mode = mode,
            ModelName = result is null ? null : inspector?.ModelName,
            ModelVersion = result is null ? null : inspector?.ModelVersion,
            Regions = result?.Regions ?? [],
            Verdict = verdict,
            VerdictSource = source,
            ModelVerdict = result?.Verdict,
            ModelConfidence = result?.Confidence,
            ModelClass = result?.PartClass,
            HumanVerdict = press?.Verdict,
            HumanClass = press?.Class,
            LatencyMs = latency,
            FailReason = source == VerdictSource.FailSafe ? failReason : null,
        };
        return new DecidedPart(frame, record, result);
    }

    /// <summary>
    /// A fail-safe NG record for a part <see cref="Decide"/> could not handle (it threw): numbered like any other part,
    /// the reject fired in a model-driven mode (when the output works), counted and logged.
    /// </summary>
    public DecidedPart FailSafe(Frame frame, string reason)
    {
        ArgumentNullException.ThrowIfNull(frame);
        var mode = modes.Current;
        if (mode is AutomationMode.Partial or AutomationMode.Full)
        {
            try
            {
                outputs.Reject(frame.PartId);
                Interlocked.Increment(ref Counters.Rejects);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                reason = "reject output failed: " + e.Message + "; " + reason;
                Interlocked.Increment(ref Counters.RejectFaults);
            }
        }
        Faults.Fault("part", $"part {frame.PartId}: {reason}");
        var record = new InspectionRecord
        {
            DeviceId = options.DeviceId,
            Station = options.Station,
            Sequence = ++_sequence,
            PartId = frame.PartId,
            CapturedAt = frame.CapturedAt,
            DecidedAt = time.GetUtcNow(),
            Mode = mode,
            Verdict = Verdict.Ng,
            VerdictSource = VerdictSource.FailSafe,
            FailReason = reason,
        };
        return new DecidedPart(frame, record, null);
    }

    /// <summary>
    /// Stores decided parts durably (one group commit for all of them), then counts them, feeds the shadow gate,
    /// telemetry and the observers (on the record stage's thread, after the records are durable). Called by one
    /// thread at a time, in decision order.
    /// </summary>
    public void Commit(IReadOnlyList<DecidedPart> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count == 0 && _unstored.Count == 0) return; // no parts: stores only the records held (see RecordStage's stop)
        // The record names its image only when the image has a place in the capture queue (reserved here, filled below).
        if (capture is not null) foreach (var part in parts) part.Record.ImageRef = capture.Reserve(part.Frame, part.Record);
        var held = _unstored.Count;
        if (held > 0)
        {
            // The parts the store refused go first, in one group with these: numbers stay ascending and gap-free.
            store.AppendMany([.. _unstored, .. parts.Select(p => p.Record)]);
            foreach (var r in _unstored)
            {
                Interlocked.Increment(ref Counters.Parts);
                if (r.VerdictSource == VerdictSource.FailSafe) Interlocked.Increment(ref Counters.FailSafe);
                if (r.Agreement is { } agreed)
                {
                    Interlocked.Increment(ref Counters.Paired);
                    if (agreed) Interlocked.Increment(ref Counters.Agreements);
                    modes.RecordPair(r);
                }
            }
            _unstored.Clear();
        }
        else if (parts.Count == 1) store.Append(parts[0].Record);
        else store.AppendMany([.. parts.Select(p => p.Record)]);
        if (held > 0) Faults.Fault("store-backlog", $"{held} records held while the store refused writes are stored");
        if (_storeFailure is { } was)
        {
            _storeFailure = null;
            Faults.Fault("store-recovered", $"the store writes again (it failed with: {was}); parts are decided normally");
        }
        foreach (var part in parts)
        {
            var record = part.Record;
            capture?.Enqueue(part.Frame, record);
            Interlocked.Increment(ref Counters.Parts);
            if (record.VerdictSource == VerdictSource.FailSafe) Interlocked.Increment(ref Counters.FailSafe);
            if (record.Agreement is { } agreed)
            {
                Interlocked.Increment(ref Counters.Paired);
                if (agreed) Interlocked.Increment(ref Counters.Agreements);
                modes.RecordPair(record);
            }
            // Telemetry, after the part is decided and stored so it adds nothing to the actuation path.
            if (part.Frame.Fault is null) Telemetry.InputFrame(part.Frame.Image);
            foreach (var (stage, ms) in record.LatencyMs) Telemetry.StageLatencyMs(stage, ms);
            Telemetry.PartInspected(part.Result?.PartClass, part.Result?.Regions.Count(r => !r.WholeFrame) ?? 0); // detections only: the no-detection fraction
            foreach (var observer in _observers)
            {
                try { observer.OnPart(part.Frame, record); }
                catch (Exception e) when (e is not OutOfMemoryException) { /* the part is recorded; an observer never costs it */ }
            }
        }
    }

    /// <summary>
    /// Counts, logs and audits parts the store refused (a failed group commit), and holds their records for the next
    /// commit (see <see cref="UnstoredRecords"/>): their numbers are not reused, and the audit trail names them when the
    /// store can still write its audit.
    /// </summary>
    public void CommitFailed(IReadOnlyList<DecidedPart> parts, Exception error)
    {
        ArgumentNullException.ThrowIfNull(parts);
        ArgumentNullException.ThrowIfNull(error);
        if (parts.Count == 0) return;
        if (capture is not null) foreach (var part in parts) capture.Release(part.Record);
        _storeFailure = error.Message;
        Interlocked.Add(ref Counters.StoreFaults, parts.Count);
        // Only an I/O failure (a full disk) passes: anything else could fail again for the same records and hold up
        // every later part with them.
        if (error is IOException) foreach (var p in parts) _unstored.Enqueue(p.Record);
        while (_unstored.Count > MaxUnstoredRecords)
        {
            _unstored.Dequeue();
            Interlocked.Increment(ref Counters.StoreDroppedParts);
        }
        var what = $"parts {parts[0].Frame.PartId}..{parts[^1].Frame.PartId} (sequence {parts[0].Record.Sequence}..{parts[^1].Record.Sequence})";
        Faults.Fault("store", $"{what} could not be recorded: {error.Message}", error);
        try
        {
            store.AppendAudit(new AuditEvent(time.GetUtcNow(), "store.write-failed", "station", "pipeline", null, null, $"{what}: {error.Message}"));
        }
        catch (Exception e) when (e is not OutOfMemoryException) { /* the store cannot write at all: the log line is what is left */ }
    }

    /// <summary>Persists the sequence counter (called on stop; records carry it too).</summary>
    public void SaveSequence()
    {
        var state = store.LoadState();
        state.LastSequence = Math.Max(state.LastSequence, _sequence);
        store.SaveState(state);
    }
}
