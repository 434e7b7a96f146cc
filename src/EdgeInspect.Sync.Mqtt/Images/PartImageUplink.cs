using System.Security.Cryptography;
using EdgeInspect.Core.Storage;
using EdgeInspect.Fleet.Protocol.Images;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EdgeInspect.Sync.Mqtt.Images;

/// <summary>
/// Sends the kept part images to the cloud ingest over the device's MQTT connection, one image and one chunk at a
/// time, most valuable first (<see cref="IPartImageQueue.Pending"/>). Each chunk waits for the ingest's
/// <see cref="ImageAck"/>, whose <c>next</c> says where to go on: after a restart, a lost link or a lost chunk the upload
/// resumes at the first chunk the ingest does not have. An image is deleted only on <c>done</c>, which the ingest sends
/// after the image is on its disk and in its database. One chunk in flight keeps the link free for records (they share
/// it) and needs no reassembly window at the ingest.
/// </summary>
public sealed class PartImageUplink : BackgroundService
{
    private readonly IPartImageQueue _queue;
    private readonly DeviceMqttConnection _connection;
    private readonly ImageUplinkOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly Dictionary<string, int> _refusals = [];
    private readonly Lock _lock = new();
    private (string Id, TaskCompletionSource<ImageAck> Answer)? _waiting;
    private long _uploaded;
    private long _chunks;
    private long _bytes;
    private long _refused;
    private long _timeouts;

    /// <summary>An uplink for the images of <paramref name="queue"/> over <paramref name="connection"/>.</summary>
    public PartImageUplink(IPartImageQueue queue, DeviceMqttConnection connection, ImageUplinkOptions options, TimeProvider? time = null,
        ILogger<PartImageUplink>? log = null)
    {
        _queue = queue;
        _connection = connection;
        _options = options;
        _time = time ?? TimeProvider.System;
        _log = (ILogger?)log ?? NullLogger.Instance;
        _connection.Subscribe(_connection.Topics.ImageAck, OnAckAsync);
    }

    /// <summary>Images the ingest confirmed stored (and deleted here) since start.</summary>
    public long Uploaded => Interlocked.Read(ref _uploaded);

    /// <summary>Chunks the ingest took since start.</summary>
    public long ChunksAcked => Interlocked.Read(ref _chunks);

    /// <summary>Image bytes the ingest confirmed since start.</summary>
    public long BytesUploaded => Interlocked.Read(ref _bytes);

    /// <summary>Chunks the ingest refused (with its reason, logged).</summary>
    public long Refused => Interlocked.Read(ref _refused);

    /// <summary>Chunks that got no answer in time.</summary>
    public long Timeouts => Interlocked.Read(ref _timeouts);

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var poll = TimeSpan.FromSeconds(_options.PollSeconds);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!_connection.IsConnected || !await UploadNextAsync(stoppingToken)) await Task.Delay(poll, _time, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { return; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                _log.LogWarning("part image upload: {Error}", e.Message);
                await Task.Delay(poll, _time, stoppingToken);
            }
        }
    }

    /// <summary>
    /// Uploads the most valuable pending image to the end (true), or stops at the first chunk that got no answer or a
    /// refusal, or finds nothing to send (false).
    /// </summary>
    public async Task<bool> UploadNextAsync(CancellationToken ct)
    {
        var image = _queue.Pending(16).FirstOrDefault(i => !IsParked(i.Id));
        if (image is null) return false;
        byte[] bytes;
        try { bytes = await File.ReadAllBytesAsync(image.Path, ct); }
        catch (FileNotFoundException) { return true; } // evicted meanwhile: the next one
        var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var chunkBytes = _options.ChunkBytes;
        var count = ImageChunk.CountOf(bytes.Length, chunkBytes);
        var next = 0;
        while (true)
        {
            var offset = (long)next * chunkBytes;
            var data = bytes.AsMemory((int)offset, (int)Math.Min(chunkBytes, bytes.Length - offset));
            var chunk = new ImageChunk(image.Epoch, image.Sequence, image.Reason, image.CapturedAt, next, chunkBytes, bytes.Length, sha, data);
            var ack = await SendAsync(image.Id, chunk.Encode(), ct);
            if (ack is null)
            {
                Interlocked.Increment(ref _timeouts);
                return false;
            }
            if (ack.Refused is { } why)
            {
                Interlocked.Increment(ref _refused);
                var times = Park(image.Id);
                _log.LogWarning("ingest refused chunk {Index} of part image {Id} ({Times} time(s)): {Reason}", next, image.Id, times, why);
                return false;
            }
            Interlocked.Increment(ref _chunks);
            if (ack.Done)
            {
                _queue.Delete(image);
                Interlocked.Increment(ref _uploaded);
                Interlocked.Add(ref _bytes, bytes.Length);
                return true;
            }
            if (ack.Next >= count)
            {
                // Every chunk is there and the ingest has not stored it: ask again from the last one.
                next = count - 1;
                continue;
            }
            next = ack.Next;
        }
    }

    private async Task<ImageAck?> SendAsync(string id, byte[] payload, CancellationToken ct)
    {
        var answer = new TaskCompletionSource<ImageAck>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock) _waiting = (id, answer);
        try
        {
            var settings = new MqttPublishSettings { ContentType = "application/octet-stream" };
            var outcome = await _connection.PublishForOutcomeAsync(_connection.Topics.Images, payload, settings, ct);
            // 0x10: no ingest subscribed, so nobody will answer; a refusal: the broker will not carry it.
            if (outcome != PublishOutcome.Accepted) return null;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(_options.AckTimeoutSeconds));
            try { return await answer.Task.WaitAsync(timeout.Token); }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested) { return null; }
        }
        finally
        {
            lock (_lock) _waiting = null;
        }
    }

    private Task OnAckAsync(MqttInbound message, CancellationToken ct)
    {
        var ack = ImageAck.TryParse(message.Payload.Span, out var problem);
        if (ack is null)
        {
            _log.LogWarning("image ack on {Topic} ignored: {Problem}", message.Topic, problem);
            return Task.CompletedTask;
        }
        lock (_lock)
        {
            // An answer to an earlier chunk (one that timed out) is not the answer to this one.
            if (_waiting is { } w && w.Id == ack.Id) w.Answer.TrySetResult(ack);
        }
        return Task.CompletedTask;
    }

    private bool IsParked(string id)
    {
        lock (_lock) return _refusals.TryGetValue(id, out var n) && n >= _options.ParkAfterRefusals;
    }

    private int Park(string id)
    {
        lock (_lock) return _refusals[id] = _refusals.GetValueOrDefault(id) + 1;
    }
}
