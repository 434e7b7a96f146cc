using System.Buffers;
using EdgeInspect.Core.Concurrency;
using EdgeInspect.Cloud.Ingest.Intake;
using EdgeInspect.Fleet.Protocol.Images;
using EdgeInspect.Fleet.Protocol.Tls;
using EdgeInspect.Fleet.Protocol.Topics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Npgsql;

namespace EdgeInspect.Cloud.Ingest.Images;

/// <summary>
/// Takes the devices' part-image chunks from <c>$share/&lt;group&gt;/&lt;prefix&gt;/+/images</c> on a connection of its own
/// (an image's chunks never wait behind a batch of records), writes each to the image folder, flushed, and answers
/// every chunk on the device's <c>images/ack</c> with the next chunk it needs. When the last chunk is in, the image is
/// checked (size, SHA-256), moved to its device and day folder and recorded in <c>part_images</c>; only then is the
/// answer "done", which lets the device delete it. A malformed chunk goes to <c>dead_letters</c> with the reason and
/// never stops the intake. A database or disk error answers nothing: the device asks again after its timeout.
/// <para>Starts once the ingest has migrated the schema (<see cref="IngestWorker.Ready"/>).</para>
/// </summary>
public sealed class PartImageIntake : BackgroundService
{
    private readonly IngestOptions _ingest;
    private readonly BrokerTls? _tls;
    private readonly ImageStorageOptions _options;
    private readonly IngestWorker _worker;
    private readonly PartImageFiles _files;
    private readonly PartImageTable _table;
    private readonly ImageLimits _limits;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly IMqttClient _client;
    private readonly int _prefixLevels;
    private long _chunks;
    private long _stored;
    private long _deadLetters;

    /// <summary>An intake for the ingest configured by <paramref name="ingest"/>, storing under <paramref name="options"/>' root.</summary>
    public PartImageIntake(IngestOptions ingest, ImageStorageOptions options, IngestWorker worker, NpgsqlDataSource db, TimeProvider? time = null,
        ILogger<PartImageIntake>? log = null)
    {
        ingest.Validate();
        options.Validate();
        _ingest = ingest;
        _tls = IngestBrokerOptions.LoadTls(ingest);
        _options = options;
        _worker = worker;
        _files = new PartImageFiles(options.Root);
        _table = new PartImageTable(db);
        _limits = options.Limits;
        _time = time ?? TimeProvider.System;
        _log = (ILogger?)log ?? NullLogger.Instance;
        _prefixLevels = ingest.TopicPrefix.Split('/').Length;
        _client = new MqttClientFactory().CreateMqttClient();
        _client.ApplicationMessageReceivedAsync += OnMessageAsync;
    }

    /// <summary>The shared-subscription filter.</summary>
    public string Filter => $"$share/{_ingest.ShareGroup}/{_ingest.TopicPrefix}/+/images";

    /// <summary>The image folder.</summary>
    public PartImageFiles Files => _files;

    /// <summary>Chunks written since start (a chunk held already is answered, not written again).</summary>
    public long Chunks => Interlocked.Read(ref _chunks);

    /// <summary>Images stored and recorded since start.</summary>
    public long Stored => Interlocked.Read(ref _stored);

    /// <summary>Chunks dead-lettered since start.</summary>
    public long DeadLetters => Interlocked.Read(ref _deadLetters);

    /// <summary>Whether the intake's MQTT connection is up.</summary>
    public bool IsConnected => _client.IsConnected;

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await _worker.Ready.WaitAsync(stoppingToken);
        var failures = 0;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (_client.IsConnected && await _client.TryPingAsync(stoppingToken))
                {
                    await Task.Delay(TimeSpan.FromSeconds(5), _time, stoppingToken);
                    continue;
                }
                if (await TryConnectAsync(stoppingToken)) { failures = 0; continue; }
                await Task.Delay(Backoff.WithEqualJitter(Backoff.Seconds(failures++, 0.2, 10), Random.Shared), _time, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
        finally
        {
            if (_client.IsConnected)
            {
                try { await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), CancellationToken.None); }
                catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or OperationCanceledException) { }
            }
        }
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        _client.Dispose();
        _tls?.Dispose();
        base.Dispose();
    }

    private async Task<bool> TryConnectAsync(CancellationToken ct)
    {
        try
        {
            if (_client.IsConnected) await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), ct);
            var result = await _client.ConnectAsync(IngestBrokerOptions.Build(_ingest, _ingest.EffectiveClientId + "-images", _tls), ct);
            if (result.ResultCode != MqttClientConnectResultCode.Success)
            {
                _log.LogWarning("MQTT broker refused the image intake: {Code} {Reason}", result.ResultCode, result.ReasonString);
                return false;
            }
            await _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
                .WithTopicFilter(t => t.WithTopic(Filter).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)).Build(), ct);
            _log.LogInformation("Image intake subscribed to {Filter}, storing under {Root}", Filter, _files.Root);
            return true;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { throw; }
        catch (Exception e)
        {
            _log.LogDebug("image intake: MQTT connect failed: {Error}", e.Message);
            return false;
        }
    }

    private async Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs e)
    {
        var msg = e.ApplicationMessage;
        var levels = msg.Topic.Split('/');
        var device = levels.Length == _prefixLevels + 2 ? levels[_prefixLevels] : "";
        var size = (int)Math.Min(int.MaxValue, msg.Payload.Length);
        // An oversized payload is not copied whole: only what its dead letter keeps.
        var cap = _limits.MaxChunkBytes + 4096;
        var payload = msg.Payload.Slice(0, Math.Min(size, size > cap ? _options.DeadLetterKeepBytes : size)).ToArray();
        await HandleAsync(msg.Topic, device, payload, size, CancellationToken.None);
    }

    /// <summary>One chunk, start to answer (the MQTT handler calls it; exposed for tests that feed chunks directly).</summary>
    internal async Task HandleAsync(string topic, string device, ReadOnlyMemory<byte> payload, int size, CancellationToken ct)
    {
        var now = _time.GetUtcNow();
        try
        {
            if (!MqttTopics.IsValidId(device)) { await DeadLetterAsync(topic, "topic has no valid device id level", payload, now, ct); return; }
            if (size > _limits.MaxChunkBytes + 4096)
            {
                await DeadLetterAsync(topic, $"chunk of {size} bytes is over the {_limits.MaxChunkBytes}-byte chunk limit", payload, now, ct);
                return;
            }
            if (!ImageChunk.TryDecode(payload, _limits, out var chunk, out var reason))
            {
                await DeadLetterAsync(topic, reason!, payload, now, ct);
                return;
            }
            if (chunk.Index == 0 && _files.Held(device, chunk) == 0 && await _table.ExistsAsync(device, chunk, ct))
            {
                await AnswerAsync(device, new ImageAck(chunk.Id, chunk.Count, Done: true), ct);
                return;
            }
            var before = _files.Held(device, chunk);
            var held = _files.Append(device, chunk);
            if (held > before) Interlocked.Increment(ref _chunks);
            if (held < chunk.Count)
            {
                await AnswerAsync(device, new ImageAck(chunk.Id, held, Done: false), ct);
                return;
            }
            var relative = _files.Complete(device, chunk, out var problem);
            if (relative is null)
            {
                await DeadLetterAsync(topic, problem!, payload, now, ct);
                await AnswerAsync(device, new ImageAck(chunk.Id, 0, Done: false, Refused: problem), ct);
                return;
            }
            await _table.InsertAsync(device, chunk, relative, now, ct);
            Interlocked.Increment(ref _stored);
            await AnswerAsync(device, new ImageAck(chunk.Id, chunk.Count, Done: true), ct);
        }
        catch (Exception e) when (e is NpgsqlException or IOException or UnauthorizedAccessException)
        {
            // Nothing is answered: the device asks again after its timeout, and resumes at what reached the disk.
            _log.LogWarning("image chunk on {Topic} not taken: {Error}", topic, e.Message);
        }
    }

    private async Task DeadLetterAsync(string topic, string reason, ReadOnlyMemory<byte> payload, DateTimeOffset now, CancellationToken ct)
    {
        Interlocked.Increment(ref _deadLetters);
        _log.LogWarning("image chunk on {Topic} dead-lettered: {Reason}", topic, reason);
        await _table.DeadLetterAsync(topic, reason, payload, _options.DeadLetterKeepBytes, now, ct);
    }

    private async Task AnswerAsync(string device, ImageAck ack, CancellationToken ct)
    {
        if (!_client.IsConnected) return;
        var msg = new MqttApplicationMessageBuilder()
            .WithTopic($"{_ingest.TopicPrefix}/{device}/images/ack")
            .WithPayload(ack.ToJson())
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithContentType("application/json")
            .Build();
        try { await _client.PublishAsync(msg, ct); }
        catch (Exception e) when (e is MQTTnet.Exceptions.MqttCommunicationException or InvalidOperationException or ObjectDisposedException)
        {
            _log.LogDebug("image ack to {Device} not sent: {Error}", device, e.Message);
        }
    }
}
