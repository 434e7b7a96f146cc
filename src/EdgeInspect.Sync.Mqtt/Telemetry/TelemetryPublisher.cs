using System.Text.Json;
using EdgeInspect.Core.Storage;
using EdgeInspect.Core.Telemetry;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeInspect.Sync.Mqtt.Telemetry;

/// <summary>
/// Every <see cref="TelemetryOptions.IntervalSeconds"/>: takes the recorder's snapshot, adds the store's eviction
/// counts (total and since the previous snapshot) and the part-image counters, evaluates the alarm rules, stores the snapshot, stores each alarm
/// transition as an audit event (<c>alarm.raised</c> / <c>alarm.cleared</c>, shown by <c>store stats</c>), and, while
/// the broker is reachable, publishes the snapshot on <c>&lt;prefix&gt;/&lt;device&gt;/telemetry</c> and the alarm events
/// on <c>&lt;prefix&gt;/&lt;device&gt;/events</c> (QoS 1). Offline, nothing is published but the snapshot and the
/// events are still stored: the store is the record, the broker only a copy.
/// <para>
/// Besides the configured rules one alarm is always on: <see cref="ParkedAlarm"/>, raised while the store holds records
/// the uplink parked (the broker kept refusing them), since nothing else would tell anyone that they never left.
/// </para>
/// </summary>
public sealed class TelemetryPublisher : BackgroundService
{
    private readonly TelemetryRecorder _recorder;
    private readonly IInspectionStore _store;
    private readonly ITelemetryStore? _telemetryStore;
    private readonly IPartImageCounters? _images;
    private readonly DeviceMqttConnection? _connection;
    private readonly TelemetryOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly AlarmEvaluator _alarms;
    private readonly SemaphoreSlim _once = new(1, 1);
    private IReadOnlyDictionary<string, long>? _lastEvictions;
    private long _published;

    /// <summary>The built-in alarm on <c>parkedRecords</c> (raised at 1, cleared at 0), unless a configured rule watches that metric.</summary>
    public const string ParkedAlarm = "uplink-parked";

    /// <param name="telemetryStore">Where snapshots go and evictions come from; null = neither (an in-memory store).</param>
    /// <param name="connection">Null when no broker is configured: snapshots are only stored.</param>
    /// <param name="images">The part-image counters; null when the station captures no images.</param>
    public TelemetryPublisher(TelemetryRecorder recorder, IInspectionStore store, ITelemetryStore? telemetryStore, DeviceMqttConnection? connection,
        TelemetryOptions options, TimeProvider? time = null, ILogger<TelemetryPublisher>? log = null, IPartImageCounters? images = null)
    {
        options.Validate();
        _recorder = recorder;
        _store = store;
        _telemetryStore = telemetryStore;
        _images = images;
        _connection = connection;
        _options = options;
        _time = time ?? TimeProvider.System;
        _log = (ILogger?)log ?? NullLogger.Instance;
        _alarms = new AlarmEvaluator(WithBuiltInRules(options.Alarms));
        // After a restart, alarms still raised in the audit trail stay raised: no second "raised" for the same condition.
        _alarms.Restore(ActiveAlarmsInStore(store));
        _lastEvictions = telemetryStore?.Evictions;
    }

    /// <summary>Snapshots published to the broker since start.</summary>
    public long Published => Interlocked.Read(ref _published);

    public IReadOnlyCollection<string> ActiveAlarms => _alarms.Active;

    /// <summary>One interval's work (the loop calls it; tests call it directly). Returns the snapshot as stored.</summary>
    public async Task<TelemetrySnapshot> PublishOnceAsync(CancellationToken ct = default)
    {
        await _once.WaitAsync(ct);
        try
        {
            var snapshot = _recorder.TakeSnapshot();
            if (_telemetryStore is { } ts)
            {
                var total = ts.Evictions;
                var since = total.ToDictionary(kv => kv.Key, kv => kv.Value - (_lastEvictions?.GetValueOrDefault(kv.Key) ?? 0));
                _lastEvictions = total;
                snapshot = snapshot with { Evictions = new EvictionTelemetry(total, since, ts.EvictedUnsent), ParkedRecords = ts.ParkedCount };
            }
            if (_images is not null) snapshot = snapshot with { Images = _images.Read() };
            var transitions = _alarms.Evaluate(snapshot.Metrics(), snapshot.At);
            snapshot = snapshot with { ActiveAlarms = [.. _alarms.Active.Order(StringComparer.Ordinal)] };
            var json = JsonSerializer.SerializeToUtf8Bytes(snapshot, RecordJson.Options);
            _telemetryStore?.AppendTelemetry(snapshot.At, json);
            var events = new List<AuditEvent>(transitions.Count);
            foreach (var t in transitions)
            {
                var e = new AuditEvent(t.At, t.Kind, "telemetry", "telemetry", t.Value.ToString("R", System.Globalization.CultureInfo.InvariantCulture), t.Name, t.Describe());
                _store.AppendAudit(e);
                events.Add(e);
                if (t.Raised) _log.LogWarning("Alarm {Alarm} raised: {What}", t.Name, t.Describe());
                else _log.LogInformation("Alarm {Alarm} cleared: {What}", t.Name, t.Describe());
            }
            if (_connection is { IsConnected: true } c)
            {
                if (await c.PublishAsync(c.Topics.Telemetry, json, MqttPublishSettings.AtLeastOnce, ct)) Interlocked.Increment(ref _published);
                foreach (var e in events)
                {
                    await c.PublishAsync(c.Topics.Events, JsonSerializer.SerializeToUtf8Bytes(e, RecordJson.Options), MqttPublishSettings.AtLeastOnce, ct);
                }
            }
            return snapshot;
        }
        finally
        {
            _once.Release();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_options.IntervalSeconds <= 0) return;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(_options.IntervalSeconds), _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await PublishOnceAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // a full disk or a dropped link must not end telemetry for good: the next interval tries again
                    _log.LogWarning("Telemetry snapshot failed: {Error}", e.Message);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override void Dispose()
    {
        _once.Dispose();
        base.Dispose();
    }

    private static IEnumerable<AlarmRule> WithBuiltInRules(IReadOnlyList<AlarmRule> configured) =>
        configured.Any(r => r.Metric == "parkedRecords" || r.EffectiveName == ParkedAlarm)
            ? configured
            : [.. configured, new AlarmRule { Name = ParkedAlarm, Metric = "parkedRecords", Direction = "above", Raise = 1, Clear = 0 }];

    private static IEnumerable<string> ActiveAlarmsInStore(IInspectionStore store) =>
        store.AuditEvents()
            .Where(a => a.Kind is "alarm.raised" or "alarm.cleared" && a.To is not null)
            .GroupBy(a => a.To!)
            .Where(g => g.Last().Kind == "alarm.raised")
            .Select(g => g.Key);
}
