using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Fleet.Protocol.Packages;
using EdgeInspect.Fleet.Protocol.Transfer;
using EdgeInspect.Station.Fleet.Transfer;
using EdgeInspect.Sync.Mqtt;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;

namespace EdgeInspect.Station.Fleet.Mqtt;

/// <summary>
/// Device side of package delivery on <c>&lt;prefix&gt;/&lt;device&gt;/model/{offer,chunk,end}</c>.
/// offer (JSON <see cref="TransferOffer"/> with its signed statement) is answered with the chunks still missing (a
/// resume sends only those) or a refusal; chunk (binary <see cref="TransferChunk"/>, QoS 1) is stored without a reply;
/// end ({"packageId"}) is answered with the install outcome, or "truncated" with the missing count. Replies use the
/// MQTT 5 response topic and correlation data, and only inside the reply filter (as for commands,
/// <see cref="MqttCommandResponder"/>): an offer or end asking for a reply anywhere else is dropped and counted.
/// The receive callback never waits: messages go to one bounded queue (the spool is single-writer); when it is full a
/// message is refused (answered "busy" when it expects an answer) and counted, and a pusher resends what the device
/// lacks at the next offer. Every exception on the worker becomes an <c>internal</c> reply, a log line and an audited
/// refusal, and the worker goes on with the next message.
/// </summary>
public sealed class MqttPackageReceiver : IAsyncDisposable
{
    // Refusals audited per second at most, so a flood of bad offers cannot become one disk write per message; the rest
    // are counted in RefusalsNotAudited.
    private const int AuditsPerSecond = 20;
    private static readonly MqttInbound SweepMarker = new("", ReadOnlyMemory<byte>.Empty, null, null, null, []);

    private readonly DeviceMqttConnection _connection;
    private readonly PackageReceiver _receiver;
    private readonly Func<string, TransferOffer, CancellationToken, Task<JsonNode?>> _install;
    private readonly Action<string, string, string>? _refused;
    private readonly ILogger _log;
    private readonly TimeProvider _time;
    private readonly string _prefix;
    private readonly Channel<MqttInbound> _queue;
    private readonly Channel<(MqttInbound Message, CommandReply Reply)> _busyReplies;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _worker;
    private readonly Task _busyWorker;
    private readonly ITimer? _sweepTimer;
    private readonly IDisposable _subscription;
    private long _rejectedChunks, _queueFull, _dropped, _foreignReplies, _errors, _notAudited, _auditSecond;
    private int _auditsThisSecond;

    /// <param name="install">Called with the complete archive; throws <see cref="PackageRefusedException"/> to refuse it.</param>
    /// <param name="refused">Optional: told about refusals that never reach <paramref name="install"/> (a refused offer, a
    /// truncated stream, an internal error), with the package id, the code and the reason, so they can be audited too.</param>
    /// <param name="replyTopicFilter">Response topics must match it; default <c>&lt;prefix&gt;/fleet/+/replies</c>.</param>
    /// <param name="queueCapacity">Messages waiting for the worker before further ones are refused.</param>
    /// <param name="sweepEvery">How often abandoned transfers are looked for (<see cref="PackageReceiver.Sweep"/>); null: only on offers.</param>
    public MqttPackageReceiver(DeviceMqttConnection connection, PackageReceiver receiver,
        Func<string, TransferOffer, CancellationToken, Task<JsonNode?>> install, Action<string, string, string>? refused = null,
        string? replyTopicFilter = null, int queueCapacity = 64, TimeSpan? sweepEvery = null, TimeProvider? time = null, ILogger? log = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(queueCapacity, 1);
        _refused = refused;
        _connection = connection;
        _receiver = receiver;
        _install = install;
        _log = log ?? NullLogger.Instance;
        _time = time ?? TimeProvider.System;
        _prefix = connection.Topics.DeviceRoot + "/model/";
        ReplyFilter = replyTopicFilter ?? connection.Topics.Prefix + "/fleet/+/replies";
        _queue = Channel.CreateBounded<MqttInbound>(new BoundedChannelOptions(queueCapacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait });
        _busyReplies = Channel.CreateBounded<(MqttInbound, CommandReply)>(new BoundedChannelOptions(queueCapacity) { SingleReader = true });
        _worker = Task.Run(WorkAsync);
        _busyWorker = Task.Run(BusyWorkAsync);
        if (sweepEvery is { } every) _sweepTimer = _time.CreateTimer(_ => _queue.Writer.TryWrite(SweepMarker), null, every, every);
        _subscription = connection.Subscribe(_prefix + "+", OnMessageAsync);
    }

    /// <summary>The filter every response topic must match.</summary>
    public string ReplyFilter { get; }

    /// <summary>Chunks dropped as undecodable, unoffered, of the wrong length or hash.</summary>
    public long RejectedChunks => Interlocked.Read(ref _rejectedChunks);

    /// <summary>Messages refused because the worker's queue was full.</summary>
    public long QueueFull => Interlocked.Read(ref _queueFull);

    /// <summary>Busy answers that could not even be queued (their queue full too).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Offers and ends whose response topic is outside <see cref="ReplyFilter"/>: not run, nothing published.</summary>
    public long ForeignReplyTopics => Interlocked.Read(ref _foreignReplies);

    /// <summary>Unexpected exceptions on the package path, each answered <c>internal</c> and logged.</summary>
    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>Refusals counted but not audited one by one (over <see cref="AuditsPerSecond"/> a second).</summary>
    public long RefusalsNotAudited => Interlocked.Read(ref _notAudited);

    private Task OnMessageAsync(MqttInbound msg, CancellationToken ct)
    {
        try
        {
            if (!msg.Topic.StartsWith(_prefix, StringComparison.Ordinal)) return Task.CompletedTask;
            var answers = msg.Topic.Length > _prefix.Length && !msg.Topic.AsSpan(_prefix.Length).SequenceEqual("chunk");
            if (answers && !string.IsNullOrEmpty(msg.ResponseTopic)
                && (msg.ResponseTopic.AsSpan().IndexOfAny('+', '#') >= 0
                    || MqttTopicFilterComparer.Compare(msg.ResponseTopic, ReplyFilter) != MqttTopicFilterCompareResult.IsMatch))
            {
                if (Interlocked.Increment(ref _foreignReplies) is var n && (n & (n - 1)) == 0)
                    _log.LogWarning("package message on {Topic} asked for a reply outside {Filter}; dropped ({Count} so far)", msg.Topic, ReplyFilter, n);
                return Task.CompletedTask;
            }
            if (_queue.Writer.TryWrite(msg)) return Task.CompletedTask;
            Interlocked.Increment(ref _queueFull);
            if (answers && !string.IsNullOrEmpty(msg.ResponseTopic)
                && !_busyReplies.Writer.TryWrite((msg, CommandReply.Fail(null, CommandErrors.Busy, "package queue is full; offer again later"))))
                Interlocked.Increment(ref _dropped);
        }
        catch (Exception ex)
        {
            Interlocked.Increment(ref _errors);
            _log.LogError(ex, "package receive callback failed on {Topic}", msg.Topic);
        }
        return Task.CompletedTask;
    }

    private async Task WorkAsync()
    {
        try
        {
            await foreach (var msg in _queue.Reader.ReadAllAsync(_stop.Token))
            {
                CommandReply? reply;
                var kind = ReferenceEquals(msg, SweepMarker) ? "" : msg.Topic[_prefix.Length..];
                try
                {
                    reply = kind switch
                    {
                        "" => Sweep(),
                        "offer" => HandleOffer(msg.Payload),
                        "chunk" => HandleChunk(msg.Payload),
                        "end" => await HandleEndAsync(msg.Payload, _stop.Token),
                        _ => CommandReply.Fail(null, CommandErrors.UnknownCommand, $"unknown model topic '{Clip(kind)}'"),
                    };
                }
                catch (OperationCanceledException) when (_stop.IsCancellationRequested)
                {
                    throw;
                }
                catch (Exception ex)
                {
                    Interlocked.Increment(ref _errors);
                    _log.LogError(ex, "package message on {Topic} failed", msg.Topic);
                    var reason = $"{ex.GetType().Name}: {FirstLine(ex.Message)}";
                    Refused("(unknown)", PackageRefusedException.ToWire(RefusalCode.Internal), reason);
                    reply = kind == "chunk" ? null : CommandReply.Fail(null, CommandErrors.Internal, reason);
                }
                if (reply is not null && !string.IsNullOrEmpty(msg.ResponseTopic)) await ReplyAsync(msg, reply);
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
            await foreach (var (msg, reply) in _busyReplies.Reader.ReadAllAsync(_stop.Token)) await ReplyAsync(msg, reply);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    /// <summary>A failed publish (link gone) is not retried: the sender re-offers after reconnecting and learns the state then.</summary>
    private async Task ReplyAsync(MqttInbound msg, CommandReply reply)
    {
        try
        {
            await _connection.PublishAsync(msg.ResponseTopic!, reply.ToBytes(), new MqttPublishSettings
            {
                CorrelationData = msg.CorrelationData is { Length: > 0 } c ? c : null,
            }, _stop.Token);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex)
        {
            _log.LogWarning(ex, "package reply to {Topic} could not be published", msg.ResponseTopic);
        }
    }

    private CommandReply? Sweep()
    {
        _receiver.Sweep();
        return null;
    }

    private CommandReply HandleOffer(ReadOnlyMemory<byte> payload)
    {
        TransferOffer? offer;
        try
        {
            offer = JsonSerializer.Deserialize<TransferOffer>(payload.Span, TransferOffer.Json);
        }
        catch (JsonException ex)
        {
            return Refuse(null, CommandErrors.Malformed, $"offer is not JSON ({FirstLine(ex.Message)})");
        }
        if (offer is null || offer.PackageId is null || offer.Sha256 is null) return Refuse(null, CommandErrors.Malformed, "offer lacks packageId or sha256");
        var r = _receiver.Offer(offer);
        if (!r.Accepted) return Refuse(offer.PackageId, r.Code ?? CommandErrors.Refused, r.Reason ?? "refused");
        return new CommandReply(offer.PackageId, true, null, null, new JsonObject { ["missing"] = new JsonArray([.. r.MissingChunks.Select(i => (JsonNode)i)]) });
    }

    private CommandReply? HandleChunk(ReadOnlyMemory<byte> payload)
    {
        if (!TransferChunk.TryDecode(payload, out var chunk, out _))
        {
            Interlocked.Increment(ref _rejectedChunks);
            return null;
        }
        var r = _receiver.Accept(chunk);
        if (r.Status is ChunkStatus.Rejected or ChunkStatus.Corrupt) Interlocked.Increment(ref _rejectedChunks);
        return null;
    }

    private async Task<CommandReply> HandleEndAsync(ReadOnlyMemory<byte> payload, CancellationToken ct)
    {
        string? id;
        try
        {
            using var doc = JsonDocument.Parse(payload);
            id = doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("packageId", out var p) && p.ValueKind == JsonValueKind.String
                ? p.GetString()
                : null;
        }
        catch (JsonException ex)
        {
            return Refuse(null, CommandErrors.Malformed, $"end is not JSON ({FirstLine(ex.Message)})");
        }
        if (id is null || !TransferIds.IsValid(id)) return Refuse(null, CommandErrors.Schema, "end needs a valid packageId");
        var offer = _receiver.OfferOf(id);
        var r = _receiver.End(id);
        if (r.Status != ChunkStatus.Complete || offer is null)
        {
            var code = r.Reason?.StartsWith("truncated", StringComparison.Ordinal) == true ? "truncated" : "rejected";
            return Refuse(id, code, r.Reason ?? "no such package");
        }
        try
        {
            var result = await _install(r.ArchivePath!, offer, ct);
            return new CommandReply(id, true, null, null, result);
        }
        catch (PackageRefusedException ex)
        {
            return CommandReply.Fail(id, ex.WireCode, ex.Message);
        }
        finally
        {
            // Installed or refused, the archive has served its purpose; a refused one must be sent again anyway.
            _receiver.Discard(id);
        }
    }

    private CommandReply Refuse(string? packageId, string code, string reason)
    {
        Refused(packageId ?? "(none)", code, reason);
        return CommandReply.Fail(packageId, code, reason);
    }

    private void Refused(string packageId, string code, string reason)
    {
        if (_refused is null) return;
        var second = _time.GetUtcNow().ToUnixTimeSeconds();
        if (second != _auditSecond) (_auditSecond, _auditsThisSecond) = (second, 0);
        if (++_auditsThisSecond > AuditsPerSecond)
        {
            Interlocked.Increment(ref _notAudited);
            return;
        }
        try
        {
            _refused(packageId, code, reason);
        }
        catch (Exception ex)
        {
            _log.LogError(ex, "package refusal ({Code}) could not be audited", code);
        }
    }

    private static string Clip(string s) => s.Length > 40 ? s[..40] + "..." : s;

    private static string FirstLine(string s)
    {
        var i = s.IndexOf('\n');
        return i < 0 ? s : s[..i].TrimEnd();
    }

    /// <summary>Unsubscribes and stops the workers.</summary>
    public async ValueTask DisposeAsync()
    {
        _subscription.Dispose();
        if (_sweepTimer is not null) await _sweepTimer.DisposeAsync();
        _queue.Writer.TryComplete();
        _busyReplies.Writer.TryComplete();
        await _stop.CancelAsync();
        foreach (var t in new[] { _worker, _busyWorker })
        {
            try { await t; } catch (OperationCanceledException) { }
        }
        _stop.Dispose();
    }
}
