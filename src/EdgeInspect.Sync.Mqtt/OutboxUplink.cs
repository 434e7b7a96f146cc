using EdgeInspect.Core.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeInspect.Sync.Mqtt;

/// <summary>
/// Drains the store-and-forward outbox to <c>&lt;prefix&gt;/&lt;device&gt;/records</c> at QoS 1, deleting each record only
/// after its PUBACK. Each record's JSON carries deviceId and sequence, the cloud's dedupe key (a record whose PUBACK was
/// lost is sent again).
/// <para>
/// Fair share: each round sends one batch of the oldest backlog and then one batch of the newest records, so after a
/// long outage live parts reach the cloud within a round instead of waiting behind hours of backlog. Within each lane
/// records go in sequence order.
/// </para>
/// <para>
/// Replay after a lost link: QoS 1 is hop by hop. A PUBACK means the broker has the record, not that a subscriber
/// got it, and a broker that dies (no persistence, or a crash between its PUBACK and forwarding) loses what it had not
/// yet forwarded. So the records acknowledged in the last <see cref="MqttUplinkOptions.ReplaySeconds"/> before the
/// link dropped are sent once more after the reconnect, before the backlog; the cloud drops the duplicates by
/// (deviceId, sequence). The 20 s broker outage test covers it: without the replay, the record in flight at the broker
/// kill can be acknowledged and never delivered.
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
    private List<OutboxItem>? _replay;
    private long _replayed;
    private CancellationTokenSource? _cts;
    private Task? _loop;
    private long _sent;

    public OutboxUplink(IOutboxQueue queue, DeviceMqttConnection connection, MqttUplinkOptions options, ILogger<OutboxUplink>? log = null,
        TimeProvider? time = null)
    {
        _time = time ?? TimeProvider.System;
        _queue = queue;
        _connection = connection;
        _options = options;
        _log = (ILogger?)log ?? NullLogger.Instance;
        _queue.Appended += Wake;
        _connection.Connected += _ => { Wake(); return Task.CompletedTask; };
        _connection.Disconnected += OnDisconnected;
    }

    /// <summary>Records acknowledged by the broker since start.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Records sent again after a reconnect (see the class remarks).</summary>
    public long Replayed => Interlocked.Read(ref _replayed);

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
        await StopAsync();
        _cts?.Dispose();
        _signal.Dispose();
    }

    /// <summary>Sends until the outbox is empty or the link drops; returns how many were acknowledged.</summary>
    public async Task<int> DrainOnceAsync(CancellationToken ct)
    {
        await ReplayAsync(ct);
        var total = 0;
        long backlogCursor = long.MinValue;
        while (_connection.IsConnected && !ct.IsCancellationRequested)
        {
            var old = _queue.ReadBatch(backlogCursor, _options.BatchSize);
            if (old.Count == 0) break;
            var sentOld = await SendAsync(old, ct);
            total += Acked(sentOld);
            if (sentOld < 0) break;
            backlogCursor = old[^1].Offset;
            // the live lane: the newest records, unless the backlog batch already covered them
            var fresh = _queue.ReadNewest(_options.BatchSize).Where(i => i.Offset > backlogCursor).ToList();
            if (fresh.Count > 0)
            {
                var sentNew = await SendAsync(fresh, ct);
                total += Acked(sentNew);
                if (sentNew < 0) break;
            }
        }
        return total;
    }

    private async Task<int> SendAsync(IReadOnlyList<OutboxItem> items, CancellationToken ct)
    {
        // A sliding window: up to MaxInFlight QoS 1 publishes are outstanding at once, and a new one starts as soon as
        // the oldest is acknowledged (a lock-step window would idle the link while its slowest PUBACK is awaited).
        // MQTTnet writes them in call order and the broker forwards in order per topic ([MQTT-4.6.0-6]). Each record is
        // removed only after its own PUBACK; removals are batched into one store transaction per RemoveBatch acks.
        var sent = 0;
        var next = 0;
        var failed = false;
        var window = new Queue<(OutboxItem Item, Task<bool> Ack)>(Math.Min(_options.MaxInFlight, items.Count));
        var acked = new List<long>(Math.Min(RemoveBatch, items.Count));
        while (next < items.Count || window.Count > 0)
        {
            while (!failed && next < items.Count && window.Count < _options.MaxInFlight)
            {
                var item = items[next++];
                window.Enqueue((item, _connection.PublishAsync(_connection.Topics.Records, item.Payload, MqttPublishSettings.AtLeastOnce, ct)));
            }
            var (done, ack) = window.Dequeue();
            if (await ack)
            {
                acked.Add(done.Offset);
                Remember(done);
            }
            else failed = true; // stop starting new ones; those in flight still count when acknowledged
            if (acked.Count >= RemoveBatch || window.Count == 0 || (failed && acked.Count > 0))
            {
                _queue.RemoveMany(acked);
                sent += acked.Count;
                Interlocked.Add(ref _sent, acked.Count);
                acked.Clear();
            }
        }
        return failed ? -sent - 1 : sent;
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

    /// <summary>SendAsync returns -(acknowledged + 1) when a publish failed (link lost), so the caller stops the round.</summary>
    private static int Acked(int result) => result < 0 ? -result - 1 : result;

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
}
