using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeInspect.Fleet.Protocol.Commands;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgeInspect.Fleet.Commands;

/// <summary>
/// Cloud side: sends a command signed by an operator key (<see cref="CommandEnvelope"/>: device, command, id, issue and
/// expiry times, args) with a response topic of its own and a correlation id, and awaits the reply (MQTT 5.0 section 4.10).
/// The reply topic is <c>&lt;prefix&gt;/fleet/&lt;client&gt;/replies</c>, inside the namespace devices answer to.
/// </summary>
public sealed class FleetCommandClient : IAsyncDisposable
{
    private readonly IMqttClient _client;
    private readonly string _prefix;
    private readonly TimeProvider _time;
    private readonly string _replyTopic;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<CommandReply>> _pending = new(StringComparer.Ordinal);

    public FleetCommandClient(IMqttClient client, string topicPrefix, string clientId, TimeProvider time)
    {
        _client = client;
        _prefix = topicPrefix;
        _time = time;
        _replyTopic = $"{topicPrefix}/fleet/{clientId}/replies";
        _client.ApplicationMessageReceivedAsync += OnMessageAsync;
    }

    /// <summary>Subscribes to this client's reply topic; call once after connecting.</summary>
    public Task SubscribeAsync(CancellationToken cancellationToken) =>
        _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic(_replyTopic).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)).Build(), cancellationToken);

    /// <summary>This client's reply topic.</summary>
    public string ReplyTopic => _replyTopic;

    /// <summary>
    /// Signs the command for <paramref name="deviceId"/> with <paramref name="key"/> and sends it; <paramref name="lifetime"/>
    /// is both its expiry from now and how long to wait for the reply.
    /// </summary>
    public Task<CommandReply> SendAsync(string deviceId, string command, JsonObject? args, TimeSpan lifetime, ECDsa key, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var envelope = CommandEnvelope.Sign(key, deviceId, command, Guid.NewGuid().ToString("N"), now, now.Add(lifetime), args);
        return SendRawAsync(deviceId, command, envelope, lifetime, cancellationToken);
    }

    /// <summary>Sends any payload (tests use it for malformed ones) and awaits the reply by correlation data.</summary>
    public Task<CommandReply> SendRawAsync(string deviceId, string command, byte[] payload, TimeSpan timeout, CancellationToken cancellationToken) =>
        RequestAsync($"{_prefix}/{deviceId}/cmd/{command}", payload, timeout, cancellationToken);

    /// <summary>Publishes to any device topic with this client's response topic and awaits the correlated reply.</summary>
    public async Task<CommandReply> RequestAsync(string topic, byte[] payload, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var correlation = Guid.NewGuid().ToString("N");
        var tcs = new TaskCompletionSource<CommandReply>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[correlation] = tcs;
        try
        {
            await _client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic(topic)
                .WithPayload(payload)
                .WithResponseTopic(_replyTopic)
                .WithCorrelationData(System.Text.Encoding.ASCII.GetBytes(correlation))
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                .Build(), cancellationToken);
            return await tcs.Task.WaitAsync(timeout, _time, cancellationToken);
        }
        finally
        {
            _pending.TryRemove(correlation, out _);
        }
    }

    private Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        var msg = e.ApplicationMessage;
        if (msg.Topic != _replyTopic || msg.CorrelationData is not { Length: > 0 } corr) return Task.CompletedTask;
        if (!_pending.TryGetValue(System.Text.Encoding.ASCII.GetString(corr), out var tcs)) return Task.CompletedTask;
        try
        {
            var reply = CommandReply.Parse(msg.Payload.ToArray());
            if (reply is not null) tcs.TrySetResult(reply);
        }
        catch (JsonException ex)
        {
            tcs.TrySetException(ex);
        }
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        _client.ApplicationMessageReceivedAsync -= OnMessageAsync;
        return ValueTask.CompletedTask;
    }
}
