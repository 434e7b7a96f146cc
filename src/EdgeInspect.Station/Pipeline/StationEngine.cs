using System.Diagnostics;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Storage;
using EdgeInspect.Core.Telemetry;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.VirtualLine;

namespace EdgeInspect.Station.Pipeline;

public sealed record StationOptions
{
    public string DeviceId { get; init; } = "dev-001";
    public string Station { get; init; } = "station-1";
    /// <summary>In partial mode the model actuates only at or above this confidence.</summary>
    public float PartialConfidence { get; init; } = 0.9f;
    /// <summary>How long a part waits for the inspector's button when the human decides.</summary>
    public TimeSpan HumanWindow { get; init; } = TimeSpan.FromSeconds(10);
}

/// <summary>A part whose verdict is decided (and acted on) but whose record is not stored yet; it owns nothing (the frame stays the caller's).</summary>
public readonly record struct DecidedPart(Frame Frame, InspectionRecord Record, Core.Inspection.InspectionResult? Result);

/// <summary>Live counters for progress and the final summary.</summary>
public sealed class StationCounters
{
    internal long Parts, Paired, Agreements, Rejects, FailSafe, Dropped;
    public long PartsInspected => Interlocked.Read(ref Parts);
    public long PairedParts => Interlocked.Read(ref Paired);
    public long AgreedParts => Interlocked.Read(ref Agreements);
    public long RejectsFired => Interlocked.Read(ref Rejects);
    public long FailedSafe => Interlocked.Read(ref FailSafe);
    public long FramesDropped => Interlocked.Read(ref Dropped);
    public void CountDrop() => Interlocked.Increment(ref Dropped);
}

/// <summary>
/// One part through the station: model (per mode), human pairing, automation policy, actuation, record.
/// Two steps: <see cref="Decide"/> on the inspection stage's thread, <see cref="Commit"/> on the record stage's
/// (group commit off the inspection path); <see cref="Process"/> does both, synchronously, for tests and tools.
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
    IEnumerable<IPartObserver>? observers = null)
{
    private readonly IPartObserver[] _observers = observers?.ToArray() ?? [];

    // The counter is saved on a clean stop; after a crash the stored records themselves carry the last number,
    // so a sequence (the cloud's dedupe key with the device id) is never handed out twice.
    private long _sequence = Math.Max(store.LoadState().LastSequence, store.Records().Select(r => r.Sequence).DefaultIfEmpty(0).Max());

    public StationCounters Counters { get; } = new();

    /// <summary>The host the model is read from per frame (the fleet agent swaps models through it).</summary>
    public IInspectorHost Inspectors => inspectors;

    /// <summary>What sees each part after its record is stored (the fleet agent's candidate shadow and model watch).</summary>
    public IReadOnlyList<IPartObserver> Observers => _observers;

    /// <summary>Where frame, part and latency figures go (the null recorder when the station has no telemetry).</summary>
    public ITelemetryRecorder Telemetry { get; } = telemetry ?? NullTelemetryRecorder.Instance;

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
        var mode = modes.Current;
        var start = Stopwatch.GetTimestamp();
        Core.Inspection.InspectionResult? result = null;
        string? failReason = null;
        var inspector = inspectors.Current;
        if (AutomationPolicy.RunsModel(mode))
        {
            if (inspector is null) failReason = "no model installed";
            else
            {
                try { result = inspector.Inspect(frame); }
                catch (Exception e) when (e is not OutOfMemoryException) { failReason = "model failed: " + e.Message; }
            }
        }

        var decision = AutomationPolicy.Decide(mode, result is not null && result.Confidence >= options.PartialConfidence);

        // Human pairing: the inspector's button press for this part (GPIO at a station, simulated on the virtual
        // line). Only a mode where the human decides waits for it; otherwise a press already made is still paired.
        HumanPress? press = human?.Judge(frame, decision.WaitForHuman ? options.HumanWindow : TimeSpan.Zero);
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

        // Only the model (or a fail safe in a model-driven mode) fires the reject output; in human, shadow and
        // assist the inspector handles the part, so the output never fires there.
        bool modelDriven = mode is AutomationMode.Partial or AutomationMode.Full;
        if (verdict == Verdict.Ng && (source == VerdictSource.Model || (source == VerdictSource.FailSafe && modelDriven)))
        {
            outputs.Reject(frame.PartId);
            Interlocked.Increment(ref Counters.Rejects);
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
    /// Stores decided parts durably (one group commit for all of them), then counts them, feeds the shadow gate,
    /// telemetry and the observers (on the record stage's thread, after the records are durable). Called by one
    /// thread at a time, in decision order.
    /// </summary>
    public void Commit(IReadOnlyList<DecidedPart> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count == 0) return;
        if (parts.Count == 1) store.Append(parts[0].Record);
        else store.AppendMany([.. parts.Select(p => p.Record)]);
        foreach (var part in parts)
        {
            var record = part.Record;
            Interlocked.Increment(ref Counters.Parts);
            if (record.VerdictSource == VerdictSource.FailSafe) Interlocked.Increment(ref Counters.FailSafe);
            if (record.Agreement is { } agreed)
            {
                Interlocked.Increment(ref Counters.Paired);
                if (agreed) Interlocked.Increment(ref Counters.Agreements);
                modes.RecordPair(agreed);
            }
            // Telemetry, after the part is decided and stored so it adds nothing to the actuation path.
            Telemetry.InputFrame(part.Frame.Image);
            foreach (var (stage, ms) in record.LatencyMs) Telemetry.StageLatencyMs(stage, ms);
            Telemetry.PartInspected(part.Result?.PartClass, part.Result?.Regions.Count(r => !r.WholeFrame) ?? 0); // detections only: the no-detection fraction
            foreach (var observer in _observers)
            {
                try { observer.OnPart(part.Frame, record); }
                catch (Exception e) when (e is not OutOfMemoryException) { /* the part is recorded; an observer never costs it */ }
            }
        }
    }

    /// <summary>Persists the sequence counter (called on stop; records carry it too).</summary>
    public void SaveSequence()
    {
        var state = store.LoadState();
        state.LastSequence = Math.Max(state.LastSequence, _sequence);
        store.SaveState(state);
    }
}
