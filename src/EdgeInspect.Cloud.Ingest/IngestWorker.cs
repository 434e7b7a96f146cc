using System.Threading.Channels;
using EdgeInspect.Cloud.Ingest.Intake;
using EdgeInspect.Cloud.Ingest.Parsing;
using EdgeInspect.Cloud.Ingest.Schema;
using EdgeInspect.Cloud.Ingest.Writing;
using EdgeInspect.Core.Concurrency;
using EdgeInspect.Fleet.Protocol.Ingest;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace EdgeInspect.Cloud.Ingest;

/// <summary>
/// The ingest loop: migrate the schema and create partitions, then take batches from the receive queue (up to
/// <see cref="IngestOptions.BatchSize"/>, waiting at most <see cref="IngestOptions.BatchDelayMilliseconds"/> for one to
/// fill), write each in one transaction and, after the commit, acknowledge each device's records by store epoch and
/// sequence ranges. A failed write is retried with a growing delay and acknowledges nothing; the queue fills meanwhile
/// and the MQTT reader waits for it (back-pressure), so nothing is taken that is not written.
/// </summary>
public sealed class IngestWorker : BackgroundService
{
    private readonly IngestOptions _options;
    private readonly NpgsqlDataSource _db;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly Channel<IngestMessage> _queue;
    private readonly MqttIngestClient _mqtt;
    private readonly MessageParser _parser;
    private readonly IngestWriter _writer;
    private readonly PartitionMaintainer _partitions;
    private long _records;
    private long _inserted;
    private long _deadLetters;
    private long _batches;

    public IngestWorker(IngestOptions options, NpgsqlDataSource db, TimeProvider? time = null, ILoggerFactory? logs = null)
    {
        options.Validate();
        logs ??= NullLoggerFactory.Instance;
        _options = options;
        _db = db;
        _time = time ?? TimeProvider.System;
        _log = logs.CreateLogger<IngestWorker>();
        _queue = Channel.CreateBounded<IngestMessage>(new BoundedChannelOptions(options.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait, SingleReader = true,
        });
        _mqtt = new MqttIngestClient(options, _queue.Writer, _time, logs.CreateLogger<MqttIngestClient>());
        _parser = new MessageParser(options);
        _writer = new IngestWriter(db, logs.CreateLogger<IngestWriter>());
        _partitions = new PartitionMaintainer(db, options, _time, logs.CreateLogger<PartitionMaintainer>());
    }

    /// <summary>Messages taken from the broker since start (all kinds).</summary>
    public long Received => _mqtt.Received;

    /// <summary>Records committed (new or already there) since start.</summary>
    public long Records => Interlocked.Read(ref _records);

    /// <summary>Records that were new to the database.</summary>
    public long Inserted => Interlocked.Read(ref _inserted);

    public long DeadLetters => Interlocked.Read(ref _deadLetters);

    public long Batches => Interlocked.Read(ref _batches);

    public bool IsConnected => _mqtt.IsConnected;

    /// <summary>Set once the schema is migrated and partitions exist (and the MQTT loop started).</summary>
    public Task Ready => _ready.Task;

    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await WithRetryAsync("schema migration", ct => SchemaMigrator.MigrateAsync(_db, _log, ct), stoppingToken);
        await WithRetryAsync("partition maintenance", ct => _partitions.MaintainAsync(ct), stoppingToken);
        await _mqtt.StartAsync(stoppingToken);
        _ready.TrySetResult();
        var maintenance = Task.Run(() => MaintainLoopAsync(stoppingToken), CancellationToken.None);
        var batch = new List<IngestMessage>(_options.BatchSize);
        var lastReport = _time.GetTimestamp();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await FillAsync(batch, stoppingToken);
                var parsed = _parser.Parse(batch);
                var result = await WithRetryAsync("batch write", ct => _writer.WriteAsync(parsed, ct), stoppingToken);
                Interlocked.Add(ref _records, result.Committed.Count);
                Interlocked.Add(ref _inserted, result.Inserted);
                Interlocked.Add(ref _deadLetters, result.DeadLettered);
                Interlocked.Increment(ref _batches);
                Ack(result.Committed, stoppingToken);
                batch.Clear();
                if (_time.GetElapsedTime(lastReport) > TimeSpan.FromSeconds(30))
                {
                    lastReport = _time.GetTimestamp();
                    _log.LogInformation("Ingest: {Records} records committed ({Inserted} new), {DeadLetters} dead letters, {Batches} batches, {Queued} queued",
                        Records, Inserted, DeadLetters, Batches, _queue.Reader.Count);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            await _mqtt.DisposeAsync();
            await _writer.DisposeAsync();
            try { await maintenance; } catch (OperationCanceledException) { }
        }
    }

    /// <summary>Waits for a first message, then takes more until the batch is full (messages or bytes) or the batch delay is over.</summary>
    private async Task FillAsync(List<IngestMessage> batch, CancellationToken ct)
    {
        var reader = _queue.Reader;
        var first = await reader.ReadAsync(ct);
        batch.Add(first);
        long bytes = first.Payload.Length;
        bool Full() => batch.Count >= _options.BatchSize || bytes >= _options.BatchMaxBytes;
        var deadline = _time.GetTimestamp() + (long)(_options.BatchDelayMilliseconds / 1000.0 * _time.TimestampFrequency);
        while (!Full())
        {
            while (!Full() && reader.TryRead(out var m))
            {
                batch.Add(m);
                bytes += m.Payload.Length;
            }
            var left = _time.GetElapsedTime(_time.GetTimestamp(), deadline);
            if (Full() || left <= TimeSpan.Zero) break;
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
            wait.CancelAfter(left);
            try
            {
                if (!await reader.WaitToReadAsync(wait.Token)) break;
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                break;
            }
        }
    }

    /// <summary>
    /// One ack per device and epoch, with that device's committed sequences folded into ranges. Not awaited: a QoS 1
    /// publish completes when MQTTnet's receive loop reads its PUBACK, and that loop waits in the intake's handler
    /// while the queue is full; a writer that waited for its acks would then never drain the queue (measured: the
    /// bench stalled until each publish timed out). An ack that does not go out is not lost: the device sends the
    /// record again and it is acknowledged then.
    /// </summary>
    private void Ack(IReadOnlyList<RecordKey> committed, CancellationToken ct)
    {
        foreach (var g in committed.GroupBy(k => (k.DeviceId, k.Epoch)))
        {
            var ack = new IngestAck(g.Key.Epoch, IngestAck.ToRanges(g.Select(k => k.Sequence)));
            _ = _mqtt.AckAsync(g.Key.DeviceId, ack, ct).ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
        }
    }

    private async Task MaintainLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromMinutes(_options.MaintenanceIntervalMinutes), _time, ct);
            try { await _partitions.MaintainAsync(ct); }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
            {
                _log.LogWarning("Partition maintenance failed (tried again in {Minutes} min): {Error}", _options.MaintenanceIntervalMinutes, e.Message);
            }
        }
    }

    /// <summary>Runs <paramref name="work"/> until it succeeds: a database that is down or restarting is waited for, not fatal.</summary>
    private async Task<T> WithRetryAsync<T>(string what, Func<CancellationToken, Task<T>> work, CancellationToken ct)
    {
        var failures = 0;
        while (true)
        {
            try
            {
                return await work(ct);
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException && !ct.IsCancellationRequested)
            {
                var delay = TimeSpan.FromSeconds(Backoff.Seconds(failures++, 0.2, 10));
                _log.LogWarning("Ingest {What} failed (try {Try}, again in {Delay:0.#} s): {Error}", what, failures, delay.TotalSeconds, e.Message);
                await Task.Delay(delay, _time, ct);
            }
        }
    }
}
