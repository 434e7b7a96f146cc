using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Fleet.Protocol.Packages;
using EdgeInspect.Fleet.Protocol.Transfer;
using EdgeInspect.Station.Fleet.Transfer;
using EdgeInspect.Sync.Mqtt;

namespace EdgeInspect.Station.Fleet.Mqtt;

/// <summary>
/// Device side of package delivery on <c>&lt;prefix&gt;/&lt;device&gt;/model/{offer,chunk,end}</c>.
/// offer (JSON <see cref="TransferOffer"/>) is answered with the chunks still missing (a resume sends only those);
/// chunk (binary <see cref="TransferChunk"/>, QoS 1) is stored without a reply; end ({"packageId"}) is answered with
/// the install outcome, or "truncated" with the missing count. Replies use the MQTT 5 response topic and correlation
/// data. Runs on the device's one <see cref="DeviceMqttConnection"/>, which re-subscribes after every reconnect.
/// One worker processes messages in order, since the spool is single-writer.
/// </summary>
public sealed class MqttPackageReceiver : IAsyncDisposable
{
    private readonly DeviceMqttConnection _connection;
    private readonly PackageReceiver _receiver;
    private readonly Func<string, TransferOffer, CancellationToken, Task<JsonNode?>> _install;
    private readonly string _prefix;
    private readonly Channel<MqttInbound> _queue = Channel.CreateBounded<MqttInbound>(new BoundedChannelOptions(256) { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _worker;
    private readonly IDisposable _subscription;
    private readonly Action<string, string, string>? _refused;
    private long _rejectedChunks;

    /// <param name="install">Called with the complete archive; throws <see cref="PackageRefusedException"/> to refuse it.</param>
    /// <param name="refused">Optional: told about refusals that never reach <paramref name="install"/> (an oversize
    /// offer, a truncated stream), with the package id, the code and the reason, so they can be audited too.</param>
    public MqttPackageReceiver(DeviceMqttConnection connection, PackageReceiver receiver,
        Func<string, TransferOffer, CancellationToken, Task<JsonNode?>> install, Action<string, string, string>? refused = null)
    {
        _refused = refused;
        _connection = connection;
        _receiver = receiver;
        _install = install;
        _prefix = connection.Topics.DeviceRoot + "/model/";
        _worker = Task.Run(WorkAsync);
        _subscription = connection.Subscribe(_prefix + "+", OnMessageAsync);
    }

    /// <summary>Chunks dropped as undecodable, unoffered, of the wrong length or hash.</summary>
    public long RejectedChunks => Interlocked.Read(ref _rejectedChunks);

    private async Task OnMessageAsync(MqttInbound msg, CancellationToken ct)
    {
        if (!msg.Topic.StartsWith(_prefix, StringComparison.Ordinal)) return;
        // Waiting here (bounded queue) applies back-pressure through QoS 1 acknowledgements instead of buffering without bound.
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct, _stop.Token);
        await _queue.Writer.WriteAsync(msg, cts.Token);
    }

    private async Task WorkAsync()
    {
        try
        {
            await foreach (var msg in _queue.Reader.ReadAllAsync(_stop.Token))
            {
                var kind = msg.Topic[_prefix.Length..];
                var payload = msg.Payload.ToArray();
                CommandReply? reply = kind switch
                {
                    "offer" => HandleOffer(payload),
                    "chunk" => HandleChunk(payload),
                    "end" => await HandleEndAsync(payload, _stop.Token),
                    _ => CommandReply.Fail(null, CommandErrors.UnknownCommand, $"unknown model topic '{kind}'"),
                };
                if (reply is not null && !string.IsNullOrEmpty(msg.ResponseTopic))
                {
                    // A failed publish (link gone) is not retried: the sender re-offers after reconnecting and learns the state then.
                    await _connection.PublishAsync(msg.ResponseTopic, reply.ToBytes(), new MqttPublishSettings
                    {
                        CorrelationData = msg.CorrelationData is { Length: > 0 } c ? c : null,
                    }, _stop.Token);
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private CommandReply HandleOffer(byte[] payload)
    {
        TransferOffer? offer;
        try
        {
            offer = JsonSerializer.Deserialize<TransferOffer>(payload, TransferOffer.Json);
        }
        catch (JsonException ex)
        {
            return CommandReply.Fail(null, CommandErrors.Malformed, $"offer is not JSON ({ex.Message})");
        }
        if (offer is null) return CommandReply.Fail(null, CommandErrors.Malformed, "offer is null");
        var r = _receiver.Offer(offer);
        if (!r.Accepted)
        {
            var code = r.Reason!.Contains("limit", StringComparison.Ordinal) ? "oversize" : CommandErrors.Schema;
            _refused?.Invoke(offer.PackageId, code, r.Reason);
            return CommandReply.Fail(offer.PackageId, code, r.Reason);
        }
        return new CommandReply(offer.PackageId, true, null, null, new JsonObject { ["missing"] = new JsonArray([.. r.MissingChunks.Select(i => (JsonNode)i)]) });
    }

    private CommandReply? HandleChunk(byte[] payload)
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

    private async Task<CommandReply> HandleEndAsync(byte[] payload, CancellationToken ct)
    {
        string? id;
        try
        {
            using var doc = JsonDocument.Parse(payload);
            id = doc.RootElement.TryGetProperty("packageId", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
        }
        catch (JsonException ex)
        {
            return CommandReply.Fail(null, CommandErrors.Malformed, $"end is not JSON ({ex.Message})");
        }
        if (id is null || !TransferIds.IsValid(id)) return CommandReply.Fail(null, CommandErrors.Schema, "end needs a valid packageId");
        var offer = _receiver.OfferOf(id);
        var r = _receiver.End(id);
        if (r.Status != ChunkStatus.Complete || offer is null)
        {
            var code = r.Reason?.StartsWith("truncated", StringComparison.Ordinal) == true ? "truncated" : "rejected";
            _refused?.Invoke(id, code, r.Reason ?? "no such package");
            return CommandReply.Fail(id, code, r.Reason ?? "no such package");
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

    public async ValueTask DisposeAsync()
    {
        _subscription.Dispose();
        _queue.Writer.TryComplete();
        await _stop.CancelAsync();
        try { await _worker; } catch (OperationCanceledException) { }
        _stop.Dispose();
    }
}
