using System.Text.Json;
using EdgeInspect.Core.Concurrency;
using EdgeInspect.Core.Storage;
using EdgeInspect.Fleet.Protocol.Ingest;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeInspect.Sync.Mqtt;

/// <summary>
/// Drains the store-and-forward outbox to <c>&lt;prefix&gt;/&lt;device&gt;/records</c> at QoS 1 and deletes each record
/// only once it is delivered. What "delivered" means is <see cref="MqttUplinkOptions.Delivery"/>:
/// <list type="bullet">
/// <item><c>broker-puback</c>: the broker's PUBACK with reason 0x00.</item>
/// <item><c>ingest-ack</c>: the cloud ingest's <see cref="IngestAck"/> on <c>&lt;prefix&gt;/&lt;device&gt;/ack</c>, sent after its
/// database transaction committed. A record sent and not acknowledged within
/// <see cref="MqttUplinkOptions.ResendAfterSeconds"/> goes again, the wait doubling per try, unless acks keep coming
/// and none has yet covered a record sent after it (the ingest is still working through its queue).</item>
/// </list>
/// In both, PUBACK 0x10 (no matching subscribers) is not delivery: nobody got the record, so it stays and the round
/// backs off. A refusal (reason &gt;= 0x80: quota, not authorized, payload invalid) is counted per record; after
/// <see cref="MqttUplinkOptions.ParkAfterRefusals"/> the record is parked in the store (<see cref="IOutboxQueue.Park"/>:
/// kept and pending, never handed out again, across restarts too; counted and logged as an alarm, and the telemetry's
/// built-in alarm stays raised while any is parked) so one bad record cannot hold up the rest. Each record's JSON carries device,
/// store epoch and sequence, the cloud's dedupe key, so a record sent twice is stored once.
/// <para>
/// Fair share: each round sends one batch of the oldest backlog and then one batch of the newest records, so after a
/// long outage live parts reach the cloud within a round instead of waiting behind hours of backlog. Within each lane
/// records go in sequence order.
/// </para>
/// <para>
/// Replay after a lost link (broker-puback only): QoS 1 is hop by hop, and a broker that dies may not have forwarded
/// what it acknowledged. So the records acknowledged in the last <see cref="MqttUplinkOptions.ReplaySeconds"/> before
/// the link dropped are sent once more after the reconnect. With ingest-ack no replay is needed: a record lost at the
/// broker is never acknowledged, and so is sent again.
/// </para>
/// </summary>
public sealed class OutboxUplink : IAsyncDisposable
{
    private readonly IOutboxQueue _queue;
    private readonly DeviceMqttConnection _connection;
    private readonly MqttUplinkOptions _options;
    private readonly ILogger _log;
    /// <summary>Acknowledged records removed from the outbox per store transaction.</summary>
    private const int RemoveBatch = 256;
    /// <summary>At most this many recently acknowledged records are kept for a replay.</summary>
    private const int MaxReplay = 4096;
    private readonly SemaphoreSlim _signal = new(0, int.MaxValue);
    private readonly TimeProvider _time;
    private readonly Lock _recentGate = new();
    private readonly Queue<(long Offset, byte[] Payload, long AckedAt)> _recent = new();
    private readonly Lock _awaitGate = new();
    /// <summary>ingest-ack: records sent and not yet acknowledged, by sequence.</summary>
    private readonly SortedDictionary<long, Awaiting> _awaiting = [];
    /// <summary>ingest-ack: the highest sequence the backlog lane has handed to <see cref="_awaiting"/> since start.</summary>
    private long _cursor = long.MinValue;
    /// <summary>
    /// ingest-ack: the latest acknowledged sequences. A lane can read a record from the store just before its ack
    /// removes it; without this it would be sent (and counted) again.
    /// </summary>
    private readonly HashSet<long> _acked = [];
    /// <summary>ingest-ack: counts sends (first sends and resends), so a record knows which were sent after it.</summary>
    private long _sendOrder;
    /// <summary>ingest-ack: the latest send order any ack covered: a record sent before it and still awaited was overtaken.</summary>
    private long _ackedThrough;
    /// <summary>ingest-ack: <see cref="TimeProvider"/> timestamp of the last ack that covered something; 0 after a lost link.</summary>
    private long _lastAckAt;
    private readonly Queue<long> _ackedOrder = new();
    private readonly Dictionary<long, int> _refusals = [];
    private readonly HashSet<long> _parked = [];
    private readonly IDisposable? _ackSubscription;
    private List<OutboxItem>? _replay;
    private long _replayed;
    private CancellationTokenSource? _cts;
    private Task? _loop;
    private long _sent;
    private long _resent;
    private long _noSubscribers;
    private long _refused;
    private long _parkedCount;
    private long _notBefore;
    private int _unheardStreak;
    private long _parkedRetryAt;
    private long _parkedRetried;

    public OutboxUplink(IOutboxQueue queue, DeviceMqttConnection connection, MqttUplinkOptions options, ILogger<OutboxUplink>? log = null,
        TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _queue = queue;
        _connection = connection;
        _options = options;
        _log = (ILogger?)log ?? NullLogger.Instance;
        _parkedRetryAt = _time.GetTimestamp() + ParkedRetryInterval;
        _queue.Appended += Wake;
        _connection.Connected += _ => { Wake(); return Task.CompletedTask; };
        _connection.Disconnected += OnDisconnected;
        if (options.WaitsForIngestAck) _ackSubscription = _connection.Subscribe(_connection.Topics.Ack, OnAckAsync);
    }

    /// <summary>Records delivered (and removed from the outbox) since start.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Records sent again after a reconnect (see the class remarks).</summary>
    public long Replayed => Interlocked.Read(ref _replayed);

    /// <summary>ingest-ack: records sent again because no acknowledgement came in time.</summary>
    public long Resent => Interlocked.Read(ref _resent);

    /// <summary>Publishes the broker answered with 0x10 (no matching subscribers): not delivered.</summary>
    public long NoSubscribers => Interlocked.Read(ref _noSubscribers);

    /// <summary>Publishes the broker refused (reason &gt;= 0x80).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Records this instance parked after <see cref="MqttUplinkOptions.ParkAfterRefusals"/> refusals (the store keeps the total: <see cref="IOutboxQueue.ParkedCount"/>).</summary>
    public long Parked => Interlocked.Read(ref _parkedCount);

    /// <summary>Parked records handed out again by <see cref="MqttUplinkOptions.RetryParkedAfterSeconds"/> since start.</summary>
    public long ParkedRetried => Interlocked.Read(ref _parkedRetried);

    private long ParkedRetryInterval => (long)Math.Min(_options.RetryParkedAfterSeconds * _time.TimestampFrequency, long.MaxValue / 4);

    /// <summary>ingest-ack: records sent and waiting for their acknowledgement now.</summary>
    public int AwaitingAck
    {
        get { lock (_awaitGate) return _awaiting.Count; }
    }

    /// <summary>Raised after delivered records left the outbox, with their sequence numbers (on the thread that removed them).</summary>
    public event Action<IReadOnlyList<long>>? Delivered;

    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        _cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _loop = Task.Run(() => RunAsync(_cts.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync()
    {
        if (_cts is null) return;
        await _cts.CancelAsync();
        try { if (_loop is not null) await _loop; } catch (OperationCanceledException) { }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Appended -= Wake;
        _connection.Disconnected -= OnDisconnected;
        _ackSubscription?.Dispose();
        await StopAsync();
        _cts?.Dispose();
        _signal.Dispose();
    }

    /// <summary>Sends until the outbox is empty, the link drops or nobody listens; returns how many were delivered.</summary>
    public async Task<int> DrainOnceAsync(CancellationToken ct)
    {
        if (_time.GetTimestamp() < Interlocked.Read(ref _notBefore)) return 0;
        RetryParkedIfDue();
        await ReplayAsync(ct);
        var total = 0;
        var ingest = _options.WaitsForIngestAck;
        if (ingest)
        {
            var resent = await ResendDueAsync(ct);
            if (resent < 0) return 0;
        }
        long backlogCursor = ingest ? Interlocked.Read(ref _cursor) : long.MinValue;
        while (_connection.IsConnected && !ct.IsCancellationRequested && (!ingest || AwaitingAck < _options.MaxAwaitingAck))
        {
            // One more than a batch is read only to learn whether anything lies beyond it: when nothing does, this
            // batch already holds the newest records and the live lane's read would only hand out the same ones again.
            var read = _queue.ReadBatch(backlogCursor, _options.BatchSize + 1);
            if (read.Count == 0) break;
            var newerExist = read.Count > _options.BatchSize;
            if (newerExist) read = [.. read.Take(_options.BatchSize)];
            var old = Sendable(read);
            var (sentOld, startedOld, stopped) = await SendAsync(old, ct);
            total += sentOld;
            // ingest-ack: the cursor passes only records now awaited, so a stopped round leaves the rest for the next
            backlogCursor = !stopped ? read[^1].Offset : startedOld > 0 ? old[startedOld - 1].Offset : backlogCursor;
            if (ingest) Interlocked.Exchange(ref _cursor, backlogCursor);
            if (stopped) break;
            if (!newerExist) continue;
            // the live lane: the newest records, unless the backlog batch already covered them
            var fresh = Sendable(_queue.ReadNewest(_options.BatchSize).Where(i => i.Offset > backlogCursor).ToList());
            if (fresh.Count > 0)
            {
                var (sentNew, _, stoppedNew) = await SendAsync(fresh, ct);
                total += sentNew;
                if (stoppedNew) break;
            }
        }
        return total;
    }

    /// <summary>
    /// Every <see cref="MqttUplinkOptions.RetryParkedAfterSeconds"/>: the parked records (this run's and earlier runs')
    /// are un-parked in the store and go once more, behind nothing: the backlog is read again from its start.
    /// </summary>
    private void RetryParkedIfDue()
    {
        if (_options.RetryParkedAfterSeconds <= 0 || _time.GetTimestamp() < _parkedRetryAt) return;
        _parkedRetryAt = _time.GetTimestamp() + ParkedRetryInterval;
        int unparked;
        try
        {
            unparked = _queue.UnparkAll();
        }
        catch (IOException e)
        {
            _log.LogWarning("Outbox uplink: parked records not retried ({Error}); next try in {Seconds:0} s", e.Message, _options.RetryParkedAfterSeconds);
            return;
        }
        lock (_awaitGate) _parked.Clear();
        if (unparked == 0) return;
        Interlocked.Exchange(ref _cursor, long.MinValue);
        Interlocked.Add(ref _parkedRetried, unparked);
        _log.LogWarning("Outbox uplink: trying {Count} parked records again (parked again after {Refusals} more refusals; next retry in {Seconds:0} s)",
            unparked, _options.ParkAfterRefusals, _options.RetryParkedAfterSeconds);
    }

    /// <summary>Drops parked records and, with ingest-ack, records already waiting for their ack (they go again when due).</summary>
    private List<OutboxItem> Sendable(IReadOnlyList<OutboxItem> items)
    {
        var list = new List<OutboxItem>(items.Count);
        lock (_awaitGate)
        {
            foreach (var i in items)
            {
                if (_parked.Contains(i.Offset) || _awaiting.ContainsKey(i.Offset) || _acked.Contains(i.Offset)) continue;
                list.Add(i);
            }
        }
        return list;
    }

    /// <summary>
    /// Publishes <paramref name="items"/> in a sliding window of up to MaxInFlight QoS 1 messages (a lock-step window
    /// would idle the link while its slowest PUBACK is awaited), each message up to
    /// <see cref="MqttUplinkOptions.RecordsPerMessage"/> records (<see cref="RecordsMessage"/>). MQTTnet writes them in
    /// call order and the broker forwards in order per topic ([MQTT-4.6.0-6]). A message's PUBACK counts for each of
    /// its records. Returns how many records were delivered (broker-puback) and published, and whether the round must
    /// stop (link lost, or nobody subscribed). <paramref name="resend"/>: the records are already awaited (ingest-ack)
    /// and keep their tries.
    /// </summary>
    private async Task<(int Delivered, int Started, bool Stop)> SendAsync(IReadOnlyList<OutboxItem> items, CancellationToken ct, bool resend = false)
    {
        var ingest = _options.WaitsForIngestAck;
        var sent = 0;
        var next = 0;
        var stop = false;
        var window = new Queue<(int First, int Count, Task<PublishOutcome> Outcome)>(Math.Min(_options.MaxInFlight, Math.Max(1, items.Count)));
        var acked = new List<long>(Math.Min(RemoveBatch, Math.Max(1, items.Count)));
        while (next < items.Count || window.Count > 0)
        {
            while (!stop && next < items.Count && window.Count < _options.MaxInFlight)
            {
                var count = RecordsMessage.CountThatFit(items, PayloadOf, next, _options.RecordsPerMessage, _options.MaxMessageBytes);
                // Awaited before the publish: the ack can arrive before this loop sees the PUBACK.
                if (ingest && !resend) for (var i = next; i < next + count; i++) AddAwaiting(items[i]);
                var message = RecordsMessage.Pack(items, PayloadOf, next, count);
                window.Enqueue((next, count, _connection.PublishForOutcomeAsync(_connection.Topics.Records, message, MqttPublishSettings.AtLeastOnce, ct)));
                next += count;
                if (resend) Interlocked.Add(ref _resent, count);
            }
            if (window.Count == 0) break;
            var (first, records, task) = window.Dequeue();
            var outcome = await task;
            switch (outcome)
            {
                case PublishOutcome.Accepted:
                    _unheardStreak = 0;
                    if (!ingest)
                    {
                        for (var i = first; i < first + records; i++)
                        {
                            acked.Add(items[i].Offset);
                            Remember(items[i]);
                        }
                    }
                    break;
                case PublishOutcome.NoMatchingSubscribers:
                    // Nobody got it: the records stay (ingest-ack: they wait in _awaiting and go again when due).
                    Interlocked.Increment(ref _noSubscribers);
                    BackOff();
                    stop = true;
                    break;
                case PublishOutcome.Refused:
                    for (var i = first; i < first + records; i++) Refuse(items[i].Offset, items[i].Payload.Length);
                    break;
                default:
                    stop = true; // link lost: stop starting new ones; those in flight still count when acknowledged
                    break;
            }
            if (acked.Count >= RemoveBatch || window.Count == 0 || (stop && acked.Count > 0))
            {
                Remove(acked);
                sent += acked.Count;
                acked.Clear();
            }
        }
        return (sent, next, stop);
    }

    private static byte[] PayloadOf(OutboxItem item) => item.Payload;

    /// <summary>
    /// ingest-ack: sends again the awaited records whose wait is over; -1 when the round must stop. A record whose wait
    /// is over is still held while the ingest is visibly working through this device's records (an ack came within
    /// <see cref="MqttUplinkOptions.ResendAfterSeconds"/>) and no record sent after it has been acknowledged yet: the
    /// ingest takes its queue in order, so the record is most likely waiting there, and sending it again would only
    /// lengthen that queue and delay every record behind it. Once acks overtake it, or stop coming,
    /// it goes.
    /// </summary>
    private async Task<int> ResendDueAsync(CancellationToken ct)
    {
        var due = new List<OutboxItem>();
        var now = _time.GetTimestamp();
        lock (_awaitGate)
        {
            var ingestBusy = _lastAckAt != 0 && now - _lastAckAt < ResendWait(1);
            foreach (var (offset, a) in _awaiting)
            {
                if (a.DueAt > now || (ingestBusy && a.SentOrder > _ackedThrough)) continue;
                a.Tries++;
                a.DueAt = now + ResendWait(a.Tries);
                a.SentOrder = ++_sendOrder;
                due.Add(new OutboxItem(offset, a.Payload));
                if (due.Count == _options.BatchSize) break;
            }
        }
        if (due.Count == 0) return 0;
        var (_, started, stop) = await SendAsync(due, ct, resend: true);
        _log.LogInformation("Outbox uplink: sent {Count} records again (no ingest acknowledgement yet)", started);
        return stop ? -1 : started;
    }

    private void AddAwaiting(OutboxItem item)
    {
        var epoch = EpochOf(item.Payload);
        lock (_awaitGate)
        {
            _awaiting[item.Offset] = new Awaiting(item.Payload, epoch) { Tries = 1, DueAt = _time.GetTimestamp() + ResendWait(1), SentOrder = ++_sendOrder };
        }
    }

    /// <summary>The wait before try <paramref name="tries"/> + 1, in <see cref="TimeProvider"/> ticks.</summary>
    private long ResendWait(int tries)
    {
        var seconds = Backoff.Seconds(tries - 1, _options.ResendAfterSeconds, _options.MaxResendBackoffSeconds);
        return (long)(seconds * _time.TimestampFrequency);
    }

    /// <summary>Nobody is subscribed: the next round waits, doubling per round nobody heard.</summary>
    private void BackOff()
    {
        var wait = ResendWait(Interlocked.Increment(ref _unheardStreak));
        Interlocked.Exchange(ref _notBefore, _time.GetTimestamp() + wait);
        _log.LogWarning("Outbox uplink: the broker has no subscriber for {Topic} (PUBACK 0x10); records stay pending, next try in {Seconds:0.#} s",
            _connection.Topics.Records, wait / (double)_time.TimestampFrequency);
    }

    private void Refuse(long offset, int payloadBytes)
    {
        Interlocked.Increment(ref _refused);
        bool park;
        lock (_awaitGate)
        {
            _refusals[offset] = _refusals.GetValueOrDefault(offset) + 1;
            park = _refusals[offset] >= _options.ParkAfterRefusals;
            if (park)
            {
                _refusals.Remove(offset);
                // Kept here too: a store that cannot write now (full disk) still must not hand it out again this run.
                _parked.Add(offset);
                _awaiting.Remove(offset);
            }
        }
        if (!park) return;
        Interlocked.Increment(ref _parkedCount);
        var reason = $"the broker refused it {_options.ParkAfterRefusals} times (PUBACK reason >= 0x80: quota, not authorized " +
            $"or payload invalid; {payloadBytes} B)";
        var stored = "kept in the store as parked, not sent again";
        try
        {
            if (!_queue.Park(offset, reason)) stored = "no longer pending in the store";
        }
        catch (IOException e)
        {
            stored = $"not marked parked in the store ({e.Message}): skipped until the next retry of parked records or a restart";
        }
        _log.LogError("ALARM outbox record {Sequence} parked: {Reason}; {Stored}; {Parked} parked by this run", offset, reason, stored, Parked);
    }

    private void Remove(List<long> offsets)
    {
        if (offsets.Count == 0) return;
        _queue.RemoveMany(offsets);
        Interlocked.Add(ref _sent, offsets.Count);
        Delivered?.Invoke([.. offsets]);
    }

    private Task OnAckAsync(MqttInbound message, CancellationToken ct)
    {
        if (IngestAck.TryParse(message.Payload.Span, out var problem) is not { } ack)
        {
            _log.LogWarning("Outbox uplink: ignored an ack on {Topic}: {Problem}", message.Topic, problem);
            return Task.CompletedTask;
        }
        var done = new List<long>();
        lock (_awaitGate)
        {
            foreach (var (offset, a) in _awaiting)
            {
                if (a.Epoch != ack.Epoch || !ack.Covers(offset)) continue;
                done.Add(offset);
                _ackedThrough = Math.Max(_ackedThrough, a.SentOrder);
            }
            if (done.Count > 0) _lastAckAt = _time.GetTimestamp();
            foreach (var o in done)
            {
                _awaiting.Remove(o);
                if (_acked.Add(o)) _ackedOrder.Enqueue(o);
            }
            while (_ackedOrder.Count > 2 * _options.MaxAwaitingAck) _acked.Remove(_ackedOrder.Dequeue());
        }
        for (var i = 0; i < done.Count; i += RemoveBatch) Remove(done.GetRange(i, Math.Min(RemoveBatch, done.Count - i)));
        if (done.Count > 0) Wake(); // room in the window for more
        return Task.CompletedTask;
    }

    /// <summary>The record's <c>storeEpoch</c> ("" when it has none), read without deserialising the record.</summary>
    private static string EpochOf(byte[] json)
    {
        var reader = new Utf8JsonReader(json);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return "";
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isEpoch = reader.ValueTextEquals("storeEpoch"u8);
            if (!reader.Read()) return "";
            if (isEpoch) return reader.TokenType == JsonTokenType.String ? reader.GetString() ?? "" : "";
            reader.Skip();
        }
        return "";
    }

    private void Remember(OutboxItem item)
    {
        if (_options.ReplaySeconds <= 0) return;
        lock (_recentGate)
        {
            _recent.Enqueue((item.Offset, item.Payload, _time.GetTimestamp()));
            while (_recent.Count > MaxReplay) _recent.Dequeue();
        }
    }

    private void OnDisconnected()
    {
        if (_options.WaitsForIngestAck)
        {
            // What was in flight may be lost with the link: everything awaited goes again right after the reconnect.
            lock (_awaitGate)
            {
                foreach (var a in _awaiting.Values) a.DueAt = 0;
                _lastAckAt = 0;
            }
            Interlocked.Exchange(ref _notBefore, 0);
            return;
        }
        if (_options.ReplaySeconds <= 0) return;
        var now = _time.GetTimestamp();
        lock (_recentGate)
        {
            var window = TimeSpan.FromSeconds(_options.ReplaySeconds);
            var fresh = _recent.Where(r => _time.GetElapsedTime(r.AckedAt, now) <= window).Select(r => new OutboxItem(r.Offset, r.Payload));
            _replay = [.. (_replay ?? []).Concat(fresh).DistinctBy(i => i.Offset).OrderBy(i => i.Offset).TakeLast(MaxReplay)];
            _recent.Clear();
        }
    }

    private async Task ReplayAsync(CancellationToken ct)
    {
        List<OutboxItem>? replay;
        lock (_recentGate)
        {
            replay = _replay;
            _replay = null;
        }
        if (replay is null || replay.Count == 0) return;
        if (_options.ReplaySettleSeconds > 0)
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(_options.ReplaySettleSeconds), _time, ct);
            }
            catch (OperationCanceledException)
            {
                lock (_recentGate) _replay = [.. replay.Concat(_replay ?? []).DistinctBy(i => i.Offset).OrderBy(i => i.Offset)];
                throw;
            }
        }
        var sent = 0;
        foreach (var item in replay)
        {
            if (!await _connection.PublishAsync(_connection.Topics.Records, item.Payload, MqttPublishSettings.AtLeastOnce, ct))
            {
                // the link dropped again: keep the rest for the next reconnect
                lock (_recentGate) _replay = [.. replay.Skip(sent).Concat(_replay ?? []).DistinctBy(i => i.Offset).OrderBy(i => i.Offset)];
                break;
            }
            sent++;
        }
        Interlocked.Add(ref _replayed, sent);
        _log.LogInformation("Outbox uplink: re-sent {Count} records acknowledged just before the link dropped", sent);
    }

    private void Wake()
    {
        if (_signal.CurrentCount == 0) _signal.Release();
    }

    private async Task RunAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                if (_connection.IsConnected) await DrainOnceAsync(ct);
                await _signal.WaitAsync(TimeSpan.FromSeconds(1), ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _log.LogWarning("Outbox uplink: {Error}", e.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(200), ct);
            }
        }
    }

    /// <summary>One record sent and waiting for the ingest's acknowledgement.</summary>
    private sealed class Awaiting(byte[] payload, string epoch)
    {
        public byte[] Payload { get; } = payload;
        public string Epoch { get; } = epoch;
        public int Tries { get; set; }
        /// <summary><see cref="TimeProvider"/> timestamp after which it goes again.</summary>
        public long DueAt { get; set; }
        /// <summary>When it was last sent, in <see cref="_sendOrder"/>'s count.</summary>
        public long SentOrder { get; set; }
    }
}
