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
/// </summary>
public sealed class OutboxUplink : IAsyncDisposable
{
    private readonly IOutboxQueue _queue;
    private readonly DeviceMqttConnection _connection;
    private readonly MqttUplinkOptions _options;
    private readonly ILogger _log;
    /// <summary>Acknowledged records removed from the outbox per store transaction.</summary>
    private const int RemoveBatch = 256;
    private readonly SemaphoreSlim _signal = new(0, int.MaxValue);
    private CancellationTokenSource? _cts;
    private Task? _loop;
    private long _sent;

    public OutboxUplink(IOutboxQueue queue, DeviceMqttConnection connection, MqttUplinkOptions options, ILogger<OutboxUplink>? log = null)
    {
        _queue = queue;
        _connection = connection;
        _options = options;
        _log = (ILogger?)log ?? NullLogger.Instance;
        _queue.Appended += Wake;
        _connection.Connected += _ => { Wake(); return Task.CompletedTask; };
    }

    /// <summary>Records acknowledged by the broker since start.</summary>
    public long Sent => Interlocked.Read(ref _sent);

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
        await StopAsync();
        _cts?.Dispose();
        _signal.Dispose();
    }

    /// <summary>Sends until the outbox is empty or the link drops; returns how many were acknowledged.</summary>
    public async Task<int> DrainOnceAsync(CancellationToken ct)
    {
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
        var window = new Queue<(long Offset, Task<bool> Ack)>(Math.Min(_options.MaxInFlight, items.Count));
        var acked = new List<long>(Math.Min(RemoveBatch, items.Count));
        while (next < items.Count || window.Count > 0)
        {
            while (!failed && next < items.Count && window.Count < _options.MaxInFlight)
            {
                var item = items[next++];
                window.Enqueue((item.Offset, _connection.PublishAsync(_connection.Topics.Records, item.Payload, MqttPublishSettings.AtLeastOnce, ct)));
            }
            var (offset, ack) = window.Dequeue();
            if (await ack) acked.Add(offset);
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
