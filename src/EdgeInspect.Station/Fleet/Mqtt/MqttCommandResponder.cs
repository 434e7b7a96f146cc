using System.Threading.Channels;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Station.Fleet.Commands;
using EdgeInspect.Sync.Mqtt;

namespace EdgeInspect.Station.Fleet.Mqtt;

/// <summary>
/// Device side of <c>&lt;prefix&gt;/&lt;device&gt;/cmd/&lt;name&gt;</c> on the device's one
/// <see cref="DeviceMqttConnection"/>: each command is processed by <see cref="CommandProcessor"/> and answered on the
/// MQTT 5 response topic with the request's correlation data (MQTT 5.0 section 4.10, request / response). The
/// connection re-subscribes the filter after every reconnect. Messages go through a bounded queue to one worker, so a
/// slow command never blocks the connection's receive path and a flood is answered "busy" instead of growing memory.
/// The size limit is checked on the received length before the payload is parsed.
/// </summary>
public sealed class MqttCommandResponder : IAsyncDisposable
{
    private readonly DeviceMqttConnection _connection;
    private readonly CommandProcessor _processor;
    private readonly string _prefix;
    private readonly Channel<Request> _queue;
    private readonly CancellationTokenSource _stop = new();
    private readonly IDisposable _subscription;
    private readonly Task _worker;
    private long _unanswerable, _busy;

    private readonly record struct Request(string Name, ReadOnlyMemory<byte> Payload, string ResponseTopic, byte[]? Correlation);

    public MqttCommandResponder(DeviceMqttConnection connection, CommandProcessor processor, int queueCapacity = 64)
    {
        _connection = connection;
        _processor = processor;
        _prefix = connection.Topics.DeviceRoot + "/cmd/";
        _queue = Channel.CreateBounded<Request>(new BoundedChannelOptions(queueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _worker = Task.Run(WorkAsync);
        _subscription = connection.Subscribe(Filter, OnMessageAsync);
    }

    /// <summary>The subscription filter: every command of this device.</summary>
    public string Filter => _prefix + "+";

    /// <summary>Commands that came without a response topic: nothing can be answered, so they are only counted.</summary>
    public long Unanswerable => Interlocked.Read(ref _unanswerable);

    /// <summary>Commands answered "busy" because the queue was full.</summary>
    public long Busy => Interlocked.Read(ref _busy);

    private Task OnMessageAsync(MqttInbound msg, CancellationToken ct)
    {
        if (!msg.Topic.StartsWith(_prefix, StringComparison.Ordinal)) return Task.CompletedTask;
        if (string.IsNullOrEmpty(msg.ResponseTopic))
        {
            Interlocked.Increment(ref _unanswerable);
            return Task.CompletedTask;
        }
        var request = new Request(msg.Topic[_prefix.Length..], msg.Payload, msg.ResponseTopic, msg.CorrelationData);
        if (!_queue.Writer.TryWrite(request))
        {
            Interlocked.Increment(ref _busy);
            return ReplyAsync(request, CommandReply.Fail(null, CommandErrors.Busy, "command queue full; retry later"), _stop.Token);
        }
        return Task.CompletedTask;
    }

    private async Task WorkAsync()
    {
        try
        {
            await foreach (var r in _queue.Reader.ReadAllAsync(_stop.Token))
            {
                // The processor refuses an oversize payload on its length alone, before parsing.
                var reply = await _processor.ProcessAsync(r.Name, r.Payload, _stop.Token);
                await ReplyAsync(r, reply, _stop.Token);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>A failed publish (link down) is not retried: the fleet side times out and retries with a new id.</summary>
    private Task<bool> ReplyAsync(Request r, CommandReply reply, CancellationToken ct) =>
        _connection.PublishAsync(r.ResponseTopic, reply.ToBytes(), new MqttPublishSettings
        {
            CorrelationData = r.Correlation is { Length: > 0 } c ? c : null,
        }, ct);

    public async ValueTask DisposeAsync()
    {
        _subscription.Dispose();
        _queue.Writer.TryComplete();
        await _stop.CancelAsync();
        try { await _worker; } catch (OperationCanceledException) { }
        _stop.Dispose();
    }
}
