using System.Buffers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using EdgeInspect.Core.Concurrency;
using EdgeInspect.Fleet.Protocol.Tls;
using EdgeInspect.Fleet.Protocol.Topics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace EdgeInspect.Sync.Mqtt;

/// <summary>
/// The device's one MQTT 5 connection (MQTTnet 5). Everything that talks to the broker (record outbox, telemetry,
/// events, and fleet's commands and model chunks) shares it.
/// <para>
/// Why a loop of our own: MQTTnet 5 has no managed client, so reconnecting is the application's job. Following
/// MQTTnet's own sample, <see cref="StartAsync"/> starts a loop that, while connected, pings every
/// <see cref="MqttUplinkOptions.PingIntervalSeconds"/> (a failed ping means the link is dead even when TCP has not
/// noticed yet) and, while disconnected, reconnects after a delay that doubles per failure from
/// <see cref="MqttUplinkOptions.MinBackoffSeconds"/> up to <see cref="MqttUplinkOptions.MaxBackoffSeconds"/>, with
/// "equal jitter" (half fixed, half random) so a fleet that lost the same broker does not reconnect in lock-step
/// (AWS Architecture Blog, "Exponential Backoff And Jitter", 2015). Delays go through the injected <see cref="TimeProvider"/>.
/// </para>
/// <para>
/// Status: CONNECT carries a retained last-will death message on <c>&lt;prefix&gt;/&lt;device&gt;/status</c>
/// ({"state":"offline"}), which the broker publishes if the link dies without a DISCONNECT ([MQTT-3.1.2-8]);
/// right after each connect the device publishes a retained birth ({"state":"online",...}) on the same topic, which
/// replaces the death. A graceful <see cref="StopAsync"/> publishes the offline status itself, since a normal
/// DISCONNECT deletes the will ([MQTT-3.1.2-10]).
/// </para>
/// <para>
/// Subscriptions: <see cref="Subscribe"/> records a filter and a handler; the connection (re)subscribes every filter after
/// each connect, because the session is started clean (a restarted broker may have lost it anyway).
/// Inbound payloads over <see cref="MqttUplinkOptions.MaxPayloadBytes"/> are dropped and counted before any handler sees
/// them; CONNECT also announces that Maximum Packet Size, so a compliant broker does not even send them ([MQTT-3.1.2-24]).
/// Handlers run on MQTTnet's receive path: a slow handler should hand work off to its own queue.
/// </para>
/// </summary>
public sealed class DeviceMqttConnection : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly MqttUplinkOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly IMqttClient _client;
    private readonly Func<DeviceStatusInfo> _status;
    private readonly Lock _subscriptionsLock = new();
    private readonly List<Subscription> _subscriptions = [];
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private readonly Random _jitter;
    private CancellationTokenSource? _loopCts;
    private BrokerTls? _tls;
    private Task? _loop;
    private long _oversizeDropped;
    private long _connects;
    private long _connectFailures;

    public DeviceMqttConnection(MqttUplinkOptions options, TimeProvider? time = null, ILogger<DeviceMqttConnection>? log = null,
        Func<DeviceStatusInfo>? status = null, Random? jitter = null)
    {
        options.Validate();
        if (!options.Enabled) throw new InvalidOperationException($"{MqttUplinkOptions.SectionName}:Host: no broker configured");
        _options = options;
        _time = time ?? TimeProvider.System;
        _log = (ILogger?)log ?? NullLogger.Instance;
        _status = status ?? (() => new DeviceStatusInfo(null, null, null, null));
        _jitter = jitter ?? Random.Shared;
        Topics = new MqttTopics(options.TopicPrefix, options.DeviceId);
        _client = new MqttClientFactory().CreateMqttClient();
        _client.ApplicationMessageReceivedAsync += OnMessageAsync;
        _client.DisconnectedAsync += e =>
        {
            if (e.ClientWasConnected) _log.LogWarning("MQTT link to {Host}:{Port} lost: {Reason}", _options.Host, _options.Port, e.Reason);
            Disconnected?.Invoke();
            _wake.Release();
            return Task.CompletedTask;
        };
    }

    public MqttTopics Topics { get; }

    public bool IsConnected => _client.IsConnected;

    /// <summary>Inbound messages dropped because they were over <see cref="MqttUplinkOptions.MaxPayloadBytes"/>.</summary>
    public long OversizeDropped => Interlocked.Read(ref _oversizeDropped);

    /// <summary>Successful connects since start (the first one included).</summary>
    public long Connects => Interlocked.Read(ref _connects);

    public long ConnectFailures => Interlocked.Read(ref _connectFailures);

    /// <summary>Raised (on the connection loop) after each connect, once the birth is out and subscriptions are re-applied.</summary>
    public event Func<CancellationToken, Task>? Connected;

    /// <summary>Raised when the link drops (any thread).</summary>
    public event Action? Disconnected;

    /// <summary>Starts the connect / ping / reconnect loop; returns at once (the broker may be down).</summary>
    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (_loop is not null) return Task.CompletedTask;
        _loopCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _loop = Task.Run(() => RunAsync(_loopCts.Token), CancellationToken.None);
        return Task.CompletedTask;
    }

    /// <summary>Waits until connected (or the timeout); true when connected.</summary>
    public async Task<bool> WaitConnectedAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = _time.GetTimestamp() + (long)(timeout.TotalSeconds * _time.TimestampFrequency);
        while (!IsConnected)
        {
            if (_time.GetTimestamp() > deadline) return false;
            await Task.Delay(TimeSpan.FromMilliseconds(20), _time, cancellationToken);
        }
        return true;
    }

    /// <summary>Publishes the offline status, disconnects normally and stops the loop.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        if (_loopCts is null) return;
        await _loopCts.CancelAsync();
        try { if (_loop is not null) await _loop; } catch (OperationCanceledException) { }
        _loop = null;
        if (_client.IsConnected)
        {
            try
            {
                using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                cts.CancelAfter(TimeSpan.FromSeconds(_options.ConnectTimeoutSeconds));
                await PublishAsync(Topics.Status, StatusPayload(online: false), new MqttPublishSettings { Retain = true }, cts.Token);
                await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder()
                    .WithReason(MqttClientDisconnectOptionsReason.NormalDisconnection).Build(), cts.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or MQTTnet.Exceptions.MqttCommunicationException)
            {
                _log.LogWarning("MQTT graceful disconnect failed: {Error}", e.Message);
            }
        }
    }

    /// <summary>
    /// Publishes and, for QoS 1/2, waits for the broker's acknowledgement. True when the broker acknowledged with a
    /// success reason code (below 0x80, so 0x10 "no matching subscribers" counts here); false when disconnected or the
    /// broker refused. The outbox uses <see cref="PublishForOutcomeAsync"/>, which tells those apart. Never throws for
    /// link failures, only for cancellation.
    /// </summary>
    public async Task<bool> PublishAsync(string topic, ReadOnlyMemory<byte> payload, MqttPublishSettings? settings = null,
        CancellationToken cancellationToken = default) =>
        await PublishForOutcomeAsync(topic, payload, settings, cancellationToken) is PublishOutcome.Accepted or PublishOutcome.NoMatchingSubscribers;

    /// <summary>
    /// Publishes and reports the broker's answer: for QoS 1 the PUBACK reason code, so a caller can tell "the broker
    /// has it for a subscriber" (0x00) from "nobody was subscribed" (0x10) and a refusal (&gt;= 0x80). Never throws for
    /// link failures, only for cancellation.
    /// </summary>
    public async Task<PublishOutcome> PublishForOutcomeAsync(string topic, ReadOnlyMemory<byte> payload, MqttPublishSettings? settings = null,
        CancellationToken cancellationToken = default)
    {
        settings ??= MqttPublishSettings.AtLeastOnce;
        if (!_client.IsConnected) return PublishOutcome.LinkFailed;
        var builder = new MqttApplicationMessageBuilder()
            .WithTopic(topic)
            .WithPayload(payload.ToArray())
            .WithQualityOfServiceLevel(settings.Qos)
            .WithRetainFlag(settings.Retain)
            .WithContentType(settings.ContentType);
        if (settings.ResponseTopic is not null) builder.WithResponseTopic(settings.ResponseTopic);
        if (settings.CorrelationData is not null) builder.WithCorrelationData(settings.CorrelationData);
        if (settings.MessageExpirySeconds > 0) builder.WithMessageExpiryInterval(settings.MessageExpirySeconds);
        try
        {
            var result = await _client.PublishAsync(builder.Build(), cancellationToken);
            // [MQTT-3.4.2.1]: reason codes below 0x80 are success; 0x10 is the one success that reaches nobody.
            if (!result.IsSuccess) return PublishOutcome.Refused;
            return result.ReasonCode == MqttClientPublishReasonCode.NoMatchingSubscribers ? PublishOutcome.NoMatchingSubscribers : PublishOutcome.Accepted;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException or InvalidOperationException or ObjectDisposedException)
        {
            _log.LogDebug("MQTT publish on {Topic} failed: {Error}", topic, e.Message);
            return PublishOutcome.LinkFailed;
        }
    }

    /// <summary>
    /// Publishes the retained birth again with the current status (after a state change, or the fleet's rebirth
    /// command), so the status topic always shows the device as it is now. False when disconnected.
    /// </summary>
    public Task<bool> PublishBirthAsync(CancellationToken cancellationToken = default) =>
        PublishAsync(Topics.Status, StatusPayload(online: true), new MqttPublishSettings { Retain = true }, cancellationToken);

    /// <summary>Serializes <paramref name="value"/> as camelCase JSON and publishes it (see <see cref="PublishAsync"/>).</summary>
    public Task<bool> PublishJsonAsync<T>(string topic, T value, MqttPublishSettings? settings = null, CancellationToken cancellationToken = default) =>
        PublishAsync(topic, JsonSerializer.SerializeToUtf8Bytes(value, Json), settings, cancellationToken);

    /// <summary>
    /// Registers <paramref name="handler"/> for a topic filter (absolute, e.g. <c>Topics.Under("cmd/+")</c>). The filter is
    /// subscribed now when connected and again after every reconnect. Dispose the result to stop receiving.
    /// </summary>
    public IDisposable Subscribe(string filter, Func<MqttInbound, CancellationToken, Task> handler,
        MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce)
    {
        var sub = new Subscription(this, filter, handler, qos);
        lock (_subscriptionsLock) _subscriptions.Add(sub);
        if (_client.IsConnected)
        {
            _ = SubscribeOneAsync(sub, _loopCts?.Token ?? CancellationToken.None);
        }
        return sub;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _client.Dispose();
        _tls?.Dispose();
        _loopCts?.Dispose();
        _wake.Dispose();
    }

    /// <summary>The reconnect delay after <paramref name="failures"/> consecutive failures (equal jitter).</summary>
    public TimeSpan BackoffDelay(int failures) =>
        Backoff.WithEqualJitter(Backoff.Seconds(failures, _options.MinBackoffSeconds, _options.MaxBackoffSeconds), _jitter);

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
                    var delay = BackoffDelay(failures++);
                    await WaitAsync(delay, ct);
                }
                else
                {
                    using var pingCts = CancellationTokenSource.CreateLinkedTokenSource(ct);
                    pingCts.CancelAfter(TimeSpan.FromSeconds(_options.ConnectTimeoutSeconds));
                    if (!await _client.TryPingAsync(pingCts.Token))
                    {
                        _log.LogWarning("MQTT ping to {Host}:{Port} failed; reconnecting", _options.Host, _options.Port);
                        try { await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), CancellationToken.None); }
                        catch (Exception e) when (e is not OperationCanceledException) { /* link already gone */ }
                        continue;
                    }
                    await WaitAsync(TimeSpan.FromSeconds(_options.PingIntervalSeconds), ct);
                }
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                _log.LogWarning("MQTT connection loop: {Error}", e.Message);
                await WaitAsync(BackoffDelay(failures++), ct).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Waits for the delay, or less when the link drops (so a reconnect starts at once).</summary>
    private async Task WaitAsync(TimeSpan delay, CancellationToken ct)
    {
        try { await _wake.WaitAsync(delay, ct); }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { throw; }
        // drain extra wake-ups so one drop does not skip several backoff steps
        while (_wake.CurrentCount > 0 && _wake.Wait(0, CancellationToken.None)) { }
    }

    private async Task<bool> TryConnectAsync(CancellationToken ct)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(TimeSpan.FromSeconds(_options.ConnectTimeoutSeconds));
        try
        {
            var result = await _client.ConnectAsync(DeviceClientOptions.Build(_options, Topics.Status, ReloadTls()), cts.Token);
            if (result.ResultCode != MqttClientConnectResultCode.Success)
            {
                Interlocked.Increment(ref _connectFailures);
                _log.LogWarning("MQTT broker refused the connection: {Code} {Reason}", result.ResultCode, result.ReasonString);
                return false;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (BrokerTlsException e)
        {
            // Valid at start, broken since (a certificate renewal that went wrong): say so on every attempt, it will not heal by retrying.
            Interlocked.Increment(ref _connectFailures);
            _log.LogWarning("MQTT connect to {Host}:{Port} not attempted: TLS {File} {Error}", _options.Host, _options.Port, e.File, e.Message);
            return false;
        }
        catch (Exception e)
        {
            Interlocked.Increment(ref _connectFailures);
            _log.LogDebug("MQTT connect to {Host}:{Port} failed: {Error}", _options.Host, _options.Port, e.Message);
            return false;
        }
        Interlocked.Increment(ref _connects);
        _log.LogInformation("MQTT connected to {Host}:{Port} as {ClientId}", _options.Host, _options.Port, _options.EffectiveClientId);
        await PublishAsync(Topics.Status, StatusPayload(online: true), new MqttPublishSettings { Retain = true }, ct);
        Subscription[] subs;
        lock (_subscriptionsLock) subs = [.. _subscriptions];
        foreach (var sub in subs) await SubscribeOneAsync(sub, ct);
        if (Connected is { } connected)
        {
            foreach (var h in connected.GetInvocationList().Cast<Func<CancellationToken, Task>>())
            {
                try { await h(ct); }
                catch (Exception e) when (e is not OperationCanceledException) { _log.LogWarning("MQTT Connected handler failed: {Error}", e.Message); }
            }
        }
        return true;
    }

    /// <summary>
    /// Reads the TLS files again for this connect, so a certificate renewed on disk is used from the next reconnect on
    /// without a restart; the previous connection's material is released (its link is down by now).
    /// </summary>
    private BrokerTls? ReloadTls()
    {
        if (!_options.UseTls) return null;
        var tls = BrokerTls.Load(_options.CaFile, _options.ClientCertFile, _options.ClientKeyFile);
        Interlocked.Exchange(ref _tls, tls)?.Dispose();
        return tls;
    }

    private async Task SubscribeOneAsync(Subscription sub, CancellationToken ct)
    {
        try
        {
            var options = new MqttClientSubscribeOptionsBuilder()
                .WithTopicFilter(f => f.WithTopic(sub.Filter).WithQualityOfServiceLevel(sub.Qos))
                .Build();
            await _client.SubscribeAsync(options, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _log.LogWarning("MQTT subscribe to {Filter} failed: {Error}", sub.Filter, e.Message);
        }
    }

    private byte[] StatusPayload(bool online)
    {
        var s = _status();
        return JsonSerializer.SerializeToUtf8Bytes(new
        {
            state = online ? "online" : "offline",
            deviceId = _options.DeviceId,
            at = _time.GetUtcNow(),
            mode = s.Mode,
            activeModel = s.ActiveModel,
            activeModelVersion = s.ActiveModelVersion,
            softwareVersion = s.SoftwareVersion,
            fleet = s.Fleet,
        }, Json);
    }

    private async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        var msg = e.ApplicationMessage;
        var payload = msg.Payload;
        if (payload.Length > _options.MaxPayloadBytes)
        {
            // Checked before any handler parses anything: a huge payload from a misbehaving peer costs no parse.
            Interlocked.Increment(ref _oversizeDropped);
            _log.LogWarning("MQTT message on {Topic} dropped: {Size} bytes > Uplink:MaxPayloadBytes {Max}", msg.Topic, payload.Length, _options.MaxPayloadBytes);
            return;
        }
        Subscription[] subs;
        lock (_subscriptionsLock) subs = [.. _subscriptions];
        MqttInbound? inbound = null;
        foreach (var sub in subs)
        {
            if (!MqttTopics.Matches(sub.Filter, msg.Topic)) continue;
            inbound ??= new MqttInbound(msg.Topic, payload.ToArray(), msg.ResponseTopic, msg.CorrelationData, msg.ContentType,
                msg.UserProperties?.Select(p => new KeyValuePair<string, string>(p.Name, System.Text.Encoding.UTF8.GetString(p.ValueBuffer.Span))).ToArray() ?? []);
            try { await sub.Handler(inbound, _loopCts?.Token ?? CancellationToken.None); }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                _log.LogWarning("MQTT handler for {Filter} failed on {Topic}: {Error}", sub.Filter, msg.Topic, ex.Message);
            }
        }
    }

    private sealed class Subscription(DeviceMqttConnection owner, string filter, Func<MqttInbound, CancellationToken, Task> handler,
        MqttQualityOfServiceLevel qos) : IDisposable
    {
        public string Filter { get; } = filter;
        public Func<MqttInbound, CancellationToken, Task> Handler { get; } = handler;
        public MqttQualityOfServiceLevel Qos { get; } = qos;

        public void Dispose()
        {
            lock (owner._subscriptionsLock) owner._subscriptions.Remove(this);
            if (owner._client.IsConnected && !owner._subscriptions.Any(s => s.Filter == Filter))
            {
                _ = owner._client.UnsubscribeAsync(new MqttClientUnsubscribeOptionsBuilder().WithTopicFilter(Filter).Build());
            }
        }
    }
}
