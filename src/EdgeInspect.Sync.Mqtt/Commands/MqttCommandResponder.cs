using System.Buffers;
using System.Threading.Channels;
using EdgeInspect.Core.Fleet.Commands;
using MQTTnet;
using MQTTnet.Protocol;

namespace EdgeInspect.Sync.Mqtt.Commands;

/// <summary>
/// Device side of <c>&lt;prefix&gt;/&lt;device&gt;/cmd/&lt;name&gt;</c>: each command is processed by
/// <see cref="CommandProcessor"/> and answered on the MQTT 5 response topic with the request's correlation data
/// (MQTT 5.0 section 4.10, request / response). Messages go through a bounded queue to one worker, so a slow
/// command never blocks the client's receive loop and a flood is answered "busy" instead of growing memory.
/// The size limit is checked on the received length before a byte is copied or parsed.
/// </summary>
public sealed class MqttCommandResponder : IAsyncDisposable
{
    private readonly IMqttClient _client;
    private readonly CommandProcessor _processor;
    private readonly string _prefix;
    private readonly Channel<Request> _queue;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _worker;
    private long _unanswerable, _busy;

    private readonly record struct Request(string Name, byte[]? Payload, long Length, string ResponseTopic, byte[]? Correlation);

    public MqttCommandResponder(IMqttClient client, CommandProcessor processor, string topicPrefix, string deviceId, int queueCapacity = 64)
    {
        if (!Core.Packages.Transfer.TransferIds.IsValid(deviceId)) throw new ArgumentException($"device id '{deviceId}' is not valid in a topic", nameof(deviceId));
        _client = client;
        _processor = processor;
        _prefix = $"{topicPrefix}/{deviceId}/cmd/";
        _queue = Channel.CreateBounded<Request>(new BoundedChannelOptions(queueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _client.ApplicationMessageReceivedAsync += OnMessageAsync;
        _worker = Task.Run(WorkAsync);
    }

    public string Filter => _prefix + "+";

    /// <summary>Commands that came without a response topic: nothing can be answered, so they are only counted.</summary>
    public long Unanswerable => Interlocked.Read(ref _unanswerable);

    public long Busy => Interlocked.Read(ref _busy);

    /// <summary>Subscribes the command filter; call after every (re)connect, since the broker may have lost the session.</summary>
    public Task SubscribeAsync(CancellationToken cancellationToken) =>
        _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic(Filter).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce))
            .Build(), cancellationToken);

    private Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        var msg = e.ApplicationMessage;
        if (!msg.Topic.StartsWith(_prefix, StringComparison.Ordinal)) return Task.CompletedTask;
        e.IsHandled = true;
        var name = msg.Topic[_prefix.Length..];
        if (string.IsNullOrEmpty(msg.ResponseTopic))
        {
            Interlocked.Increment(ref _unanswerable);
            return Task.CompletedTask;
        }
        var length = msg.Payload.Length;
        // Oversize payloads are not copied: the processor refuses on the length alone.
        var payload = length <= _processor.Options.MaxPayloadBytes ? msg.Payload.ToArray() : null;
        var request = new Request(name, payload, length, msg.ResponseTopic, msg.CorrelationData);
        if (!_queue.Writer.TryWrite(request))
        {
            Interlocked.Increment(ref _busy);
            return ReplyAsync(request, CommandReply.Fail(null, "busy", "command queue full; retry later"), _stop.Token);
        }
        return Task.CompletedTask;
    }

    private async Task WorkAsync()
    {
        try
        {
            await foreach (var r in _queue.Reader.ReadAllAsync(_stop.Token))
            {
                var reply = r.Payload is null
                    ? CommandReply.Fail(null, "too-large", $"payload of {r.Length} bytes is over the limit of {_processor.Options.MaxPayloadBytes}")
                    : await _processor.ProcessAsync(r.Name, r.Payload, _stop.Token);
                await ReplyAsync(r, reply, _stop.Token);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private async Task ReplyAsync(Request r, CommandReply reply, CancellationToken ct)
    {
        try
        {
            var builder = new MqttApplicationMessageBuilder()
                .WithTopic(r.ResponseTopic)
                .WithPayload(reply.ToBytes())
                .WithContentType("application/json")
                .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce);
            if (r.Correlation is { Length: > 0 }) builder.WithCorrelationData(r.Correlation);
            await _client.PublishAsync(builder.Build(), ct);
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or InvalidOperationException)
        {
            // The link dropped: the fleet side times out and retries with a new id; nothing to keep here.
        }
    }

    public async ValueTask DisposeAsync()
    {
        _client.ApplicationMessageReceivedAsync -= OnMessageAsync;
        _queue.Writer.TryComplete();
        await _stop.CancelAsync();
        try { await _worker; } catch (OperationCanceledException) { }
        _stop.Dispose();
    }
}
