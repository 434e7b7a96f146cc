using System.Collections.Concurrent;
using System.Threading.Channels;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Station.Fleet.Commands;
using EdgeInspect.Sync.Mqtt;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;

namespace EdgeInspect.Station.Fleet.Mqtt;

/// <summary>
/// Device side of <c>&lt;prefix&gt;/&lt;device&gt;/cmd/&lt;name&gt;</c> on the device's one
/// <see cref="DeviceMqttConnection"/>, answered on the MQTT 5 response topic with the request's correlation data
/// (MQTT 5.0 section 4.10, request / response). The receive callback only checks the response topic, reads which listed
/// key the envelope claims (a forward-only scan, <see cref="CommandProcessor.ClaimedKey"/>) and hands the payload to that
/// key's bounded queue, one worker per key (everything else shares one more), where it is verified and run. So a flood
/// signed by one key, or sent by anyone, neither blocks MQTTnet's receive loop (whose messages all arrive in order on
/// the one session, so its per-message cost is what a second key's command waits behind) nor delays another key's
/// commands. A full queue is answered "busy" (counted) through a bounded reply queue of its own; when that is full too
/// the command is dropped and counted.
/// Replies go only to response topics matching the reply filter (<see cref="CommandOptions.ReplyTopicFilter"/>).
/// </summary>
public sealed class MqttCommandResponder : IAsyncDisposable
{
    private const string Anonymous = "";
    private readonly DeviceMqttConnection _connection;
    private readonly CommandProcessor _processor;
    private readonly ILogger _log;
    private readonly string _prefix;
    private readonly int _queueCapacity;
    private readonly ConcurrentDictionary<string, Lazy<Lane>> _lanes = new(StringComparer.Ordinal);
    private readonly Channel<(Request Request, CommandReply Reply)> _busyReplies;
    private readonly CancellationTokenSource _stop = new();
    private readonly IDisposable _subscription;
    private readonly Task _busyWorker;
    private long _unanswerable, _busy, _dropped, _foreignReplies, _callbackErrors;

    private readonly record struct Request(string Name, ReadOnlyMemory<byte> Payload, string ResponseTopic, byte[]? Correlation);

    private sealed record Lane(Channel<Request> Queue, Task Worker);

    /// <summary>Subscribes <c>cmd/+</c> on <paramref name="connection"/> and answers through <paramref name="processor"/>.</summary>
    public MqttCommandResponder(DeviceMqttConnection connection, CommandProcessor processor, ILogger? log = null)
    {
        _connection = connection;
        _processor = processor;
        _log = log ?? NullLogger.Instance;
        _prefix = connection.Topics.DeviceRoot + "/cmd/";
        _queueCapacity = processor.Options.QueuePerKey;
        ReplyFilter = processor.Options.ReplyTopicFilter ?? connection.Topics.Prefix + "/fleet/+/replies";
        _busyReplies = Channel.CreateBounded<(Request, CommandReply)>(new BoundedChannelOptions(_queueCapacity) { SingleReader = true });
        _busyWorker = Task.Run(BusyWorkAsync);
        _subscription = connection.Subscribe(Filter, OnMessageAsync);
    }

    /// <summary>The subscription filter: every command of this device.</summary>
    public string Filter => _prefix + "+";

    /// <summary>The filter every response topic must match.</summary>
    public string ReplyFilter { get; }

    /// <summary>Commands that came without a response topic: nothing can be answered, so they are only counted.</summary>
    public long Unanswerable => Interlocked.Read(ref _unanswerable);

    /// <summary>Commands whose response topic is outside <see cref="ReplyFilter"/>: not run, nothing published, counted.</summary>
    public long ForeignReplyTopics => Interlocked.Read(ref _foreignReplies);

    /// <summary>Commands answered "busy" because their key's queue was full.</summary>
    public long Busy => Interlocked.Read(ref _busy);

    /// <summary>Commands dropped unanswered because both their queue and the busy-reply queue were full.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Unexpected exceptions caught in the receive callback (each logged).</summary>
    public long CallbackErrors => Interlocked.Read(ref _callbackErrors);

    private Task OnMessageAsync(MqttInbound msg, CancellationToken ct)
    {
        try
        {
            if (!msg.Topic.StartsWith(_prefix, StringComparison.Ordinal)) return Task.CompletedTask;
            if (string.IsNullOrEmpty(msg.ResponseTopic))
            {
                Interlocked.Increment(ref _unanswerable);
                return Task.CompletedTask;
            }
            // [MQTT-3.3.2-14]: a response topic holds no wildcard; beyond that, only the fleet's reply namespace is
            // answered, so a command cannot make the device publish into another device's cmd/ tree or anywhere else.
            if (msg.ResponseTopic.AsSpan().IndexOfAny('+', '#') >= 0
                || MqttTopicFilterComparer.Compare(msg.ResponseTopic, ReplyFilter) != MqttTopicFilterCompareResult.IsMatch)
            {
                if (Interlocked.Increment(ref _foreignReplies) is var n && (n & (n - 1)) == 0)
                    _log.LogWarning("command on {Topic} asked for a reply outside {Filter}; dropped ({Count} so far)", msg.Topic, ReplyFilter, n);
                return Task.CompletedTask;
            }
            var request = new Request(msg.Topic[_prefix.Length..], msg.Payload, msg.ResponseTopic, msg.CorrelationData);
            if (LaneFor(_processor.ClaimedKey(msg.Payload.Span) ?? Anonymous).Queue.Writer.TryWrite(request)) return Task.CompletedTask;
            Interlocked.Increment(ref _busy);
            if (!_busyReplies.Writer.TryWrite((request, CommandReply.Fail(null, CommandErrors.Busy, "command queue of this key is full; retry later"))))
                Interlocked.Increment(ref _dropped);
        }
        catch (Exception ex)
        {
            Interlocked.Increment(ref _callbackErrors);
            _log.LogError(ex, "command receive callback failed on {Topic}", msg.Topic);
        }
        return Task.CompletedTask;
    }

    // Lanes exist only for the device's listed keys plus the anonymous one, so their number is bounded by the config.
    private Lane LaneFor(string key) => _lanes.GetOrAdd(key, _ => new Lazy<Lane>(() =>
    {
        var queue = Channel.CreateBounded<Request>(new BoundedChannelOptions(_queueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        return new Lane(queue, Task.Run(() => WorkAsync(queue.Reader)));
    })).Value;

    private async Task WorkAsync(ChannelReader<Request> reader)
    {
        try
        {
            await foreach (var r in reader.ReadAllAsync(_stop.Token))
            {
                CommandReply reply;
                try
                {
                    reply = await _processor.ProcessAsync(r.Name, r.Payload, _stop.Token);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !_stop.IsCancellationRequested)
                {
                    _log.LogError(ex, "command {Name} failed outside its handler", r.Name);
                    reply = CommandReply.Fail(null, CommandErrors.Internal, $"{ex.GetType().Name}: {ex.Message}");
                }
                await ReplyAsync(r, reply);
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private async Task BusyWorkAsync()
    {
        try
        {
            await foreach (var (r, reply) in _busyReplies.Reader.ReadAllAsync(_stop.Token)) await ReplyAsync(r, reply);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>A failed publish (link down) is not retried: the fleet side times out and retries with a new id.</summary>
    private async Task ReplyAsync(Request r, CommandReply reply)
    {
        try
        {
            await _connection.PublishAsync(r.ResponseTopic, reply.ToBytes(), new MqttPublishSettings
            {
                CorrelationData = r.Correlation is { Length: > 0 } c ? c : null,
            }, _stop.Token);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            _log.LogError(ex, "reply to command {Name} could not be published", r.Name);
        }
    }

    /// <summary>Unsubscribes and stops the workers.</summary>
    public async ValueTask DisposeAsync()
    {
        _subscription.Dispose();
        _busyReplies.Writer.TryComplete();
        var lanes = _lanes.Values.Select(l => l.Value).ToList();
        foreach (var lane in lanes) lane.Queue.Writer.TryComplete();
        await _stop.CancelAsync();
        foreach (var t in lanes.Select(l => l.Worker).Append(_busyWorker))
        {
            try { await t; } catch (OperationCanceledException) { }
        }
        _stop.Dispose();
    }
}
