using System.Buffers;
using System.Threading.Channels;
using EdgeInspect.Core.Concurrency;
using EdgeInspect.Fleet.Protocol.Ingest;
using EdgeInspect.Fleet.Protocol.Tls;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace EdgeInspect.Cloud.Ingest.Intake;

/// <summary>
/// The ingest's MQTT 5 connection: shared subscriptions (<c>$share/&lt;group&gt;/&lt;prefix&gt;/+/records</c>, telemetry,
/// events, status; [MQTT-4.8.2]) so instances of one group split the devices' messages, and the acks back.
/// <para>
/// Clean start, no session kept: what an instance had received but not committed when it died is never acknowledged
/// to the device, which sends it again; the device's outbox, not the broker, is the durable queue. MQTTnet sends the
/// PUBACK when the handler returns; the handler only waits for room in the bounded queue, so a slow database slows
/// the reading of the socket (TCP back-pressure) instead of growing memory.
/// </para>
/// <para>The reconnect loop follows MQTTnet 5's sample (it has no managed client): ping while connected and quiet (see
/// <see cref="RecentlyHeard"/>), reconnect with a doubling, jittered delay while not connected.</para>
/// </summary>
public sealed class MqttIngestClient : IAsyncDisposable
{
    private static readonly string[] Kinds = ["records", "telemetry", "events", "status"];
    private readonly IngestOptions _options;
    private readonly ChannelWriter<IngestMessage> _queue;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly IMqttClient _client;
    private readonly BrokerTls? _tls;
    private CancellationTokenSource? _cts;
    private Task? _loop;
    private long _received;
    private long _connects;
    /// <summary>TimeProvider timestamp of the last message received; 0 before any.</summary>
    private long _lastMessageAt;
    /// <summary>Handlers waiting for room in the queue (the socket's reading is held up behind them).</summary>
    private int _waitingForRoom;

    private static readonly TimeSpan PingTimeout = TimeSpan.FromSeconds(10);

    public MqttIngestClient(IngestOptions options, ChannelWriter<IngestMessage> queue, TimeProvider? time = null, ILogger<MqttIngestClient>? log = null)
    {
        _options = options;
        _queue = queue;
        _time = time ?? TimeProvider.System;
        _log = (ILogger?)log ?? NullLogger.Instance;
        // Loaded once, so a bad certificate or key stops the ingest at start with the file named, not at each reconnect.
        _tls = IngestBrokerOptions.LoadTls(options);
        _client = new MqttClientFactory().CreateMqttClient();
        _client.ApplicationMessageReceivedAsync += OnMessageAsync;
    }

    /// <summary>The filters this instance subscribes to.</summary>
    public IReadOnlyList<string> Filters => [.. Kinds.Select(k => $"$share/{_options.ShareGroup}/{_options.TopicPrefix}/+/{k}")];

    public bool IsConnected => _client.IsConnected;

    public long Received => Interlocked.Read(ref _received);

    public long Connects => Interlocked.Read(ref _connects);

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
        if (_client.IsConnected)
        {
            try { await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), CancellationToken.None); }
            catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException) { }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _client.Dispose();
        _tls?.Dispose();
        _cts?.Dispose();
    }

    /// <summary>Publishes one ack to <c>&lt;prefix&gt;/&lt;device&gt;/ack</c> at QoS 1; false when it did not go out (the device sends again).</summary>
    public async Task<bool> AckAsync(string deviceId, IngestAck ack, CancellationToken ct)
    {
        if (!_client.IsConnected) return false;
        var msg = new MqttApplicationMessageBuilder()
            .WithTopic($"{_options.TopicPrefix}/{deviceId}/ack")
            .WithPayload(ack.ToJson())
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithContentType("application/json")
            .Build();
        try
        {
            return (await _client.PublishAsync(msg, ct)).IsSuccess;
        }
        catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or InvalidOperationException or ObjectDisposedException
            || (e is OperationCanceledException && !ct.IsCancellationRequested))
        {
            _log.LogDebug("Ack to {Device} not sent: {Error}", deviceId, e.Message);
            return false;
        }
    }

    private async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        var msg = e.ApplicationMessage;
        var size = (int)Math.Min(int.MaxValue, msg.Payload.Length);
        // An oversized payload is not copied whole: its first bytes go to the dead-letter table with the reason.
        var keep = size > _options.MaxPayloadBytes ? Math.Min(size, _options.DeadLetterKeepBytes) : size;
        var payload = msg.Payload.Slice(0, keep).ToArray();
        Interlocked.Increment(ref _received);
        Interlocked.Exchange(ref _lastMessageAt, _time.GetTimestamp());
        Interlocked.Increment(ref _waitingForRoom);
        try { await _queue.WriteAsync(new IngestMessage(msg.Topic, payload, size, _time.GetUtcNow()), _cts?.Token ?? CancellationToken.None); }
        finally { Interlocked.Decrement(ref _waitingForRoom); }
    }

    /// <summary>
    /// True when the link has shown it is alive without a ping: a message came within the ping timeout, or a handler is
    /// waiting for queue room. A ping then proves nothing and can only fail: its answer is read by the same receive
    /// loop that waits behind the handler (a drain into a busy database), and a failed ping drops the link and makes
    /// every device send its unacknowledged records again (13,560 re-sent in one backlog drain of 50,000 here).
    /// </summary>
    private bool RecentlyHeard() =>
        Volatile.Read(ref _waitingForRoom) > 0
        || (Interlocked.Read(ref _lastMessageAt) is var at && at != 0 && _time.GetElapsedTime(at) < PingTimeout);

    private async Task RunAsync(CancellationToken ct)
    {
        var failures = 0;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                if (!_client.IsConnected)
                {
                    if (await TryConnectAsync(ct))
                    {
                        failures = 0;
                        continue;
                    }
                    await Task.Delay(ReconnectDelay(failures++), _time, ct);
                }
                else if (RecentlyHeard())
                {
                    await Task.Delay(TimeSpan.FromSeconds(5), _time, ct);
                }
                else
                {
                    using var ping = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    // generous: a ping that times out drops the link and with it what is in flight (the devices re-send it)
                    ping.CancelAfter(PingTimeout);
                    if (!await _client.TryPingAsync(ping.Token))
                    {
                        _log.LogWarning("MQTT ping to {Host}:{Port} failed; reconnecting", _options.BrokerHost, _options.BrokerPort);
                        try { await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), CancellationToken.None); }
                        catch (Exception ex) when (ex is not OperationCanceledException) { /* link already gone */ }
                        continue;
                    }
                    await Task.Delay(TimeSpan.FromSeconds(5), _time, ct);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _log.LogWarning("MQTT connection loop: {Error}", e.Message);
                await Task.Delay(ReconnectDelay(failures++), _time, ct);
            }
        }
    }

    private static TimeSpan ReconnectDelay(int failures) => Backoff.WithEqualJitter(Backoff.Seconds(failures, 0.2, 10), Random.Shared);

    private async Task<bool> TryConnectAsync(CancellationToken ct)
    {
        var options = IngestBrokerOptions.Build(_options, _options.EffectiveClientId, _tls);
        try
        {
            var result = await _client.ConnectAsync(options, ct);
            if (result.ResultCode != MqttClientConnectResultCode.Success)
            {
                _log.LogWarning("MQTT broker refused the ingest: {Code} {Reason}", result.ResultCode, result.ReasonString);
                return false;
            }
            var sub = new MqttClientSubscribeOptionsBuilder();
            foreach (var f in Filters) sub.WithTopicFilter(t => t.WithTopic(f).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce));
            var subscribed = await _client.SubscribeAsync(sub.Build(), ct);
            foreach (var item in subscribed.Items.Where(i => (int)i.ResultCode >= 0x80))
            {
                _log.LogError("MQTT broker refused the subscription {Filter}: {Code}", item.TopicFilter.Topic, item.ResultCode);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            _log.LogDebug("MQTT connect to {Host}:{Port} failed: {Error}", _options.BrokerHost, _options.BrokerPort, e.Message);
            return false;
        }
        Interlocked.Increment(ref _connects);
        _log.LogInformation("Ingest connected to {Host}:{Port} as {ClientId}, subscribed to {Filters}", _options.BrokerHost, _options.BrokerPort,
            _options.EffectiveClientId, string.Join(", ", Filters));
        return true;
    }
}
