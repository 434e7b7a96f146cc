using System.Diagnostics;
using System.Text.Json;
using EdgeInspect.Cloud.Ingest;
using EdgeInspect.TestSupport;
using Npgsql;
using Xunit;
using static EdgeInspect.TestSupport.Poll;

namespace EdgeInspect.Station.Tests.Faults;

/// <summary>
/// The real cloud ingest (<see cref="IngestWorker"/>, in-process) on its own database, and what the cloud holds: the
/// table the fleet reads, compared with a device's store by <see cref="AssertNothingLostAsync"/>.
/// </summary>
internal sealed class LiveCloud : IAsyncDisposable
{
    private readonly IngestOptions _options;
    private readonly NpgsqlDataSource _db;
    private IngestWorker? _worker;
    private int _starts;

    private LiveCloud(IngestOptions options)
    {
        _options = options;
        _db = NpgsqlDataSource.Create(options.ConnectionString);
    }

    public static async Task<LiveCloud> StartAsync(PostgresCluster cluster, MosquittoBroker broker)
    {
        var cs = await cluster.CreateDatabaseAsync("f" + Guid.NewGuid().ToString("N")[..12]);
        var cloud = new LiveCloud(new IngestOptions
        {
            ConnectionString = cs, BrokerHost = broker.Host, BrokerPort = broker.Port, BatchDelayMilliseconds = 20, RetentionDays = 0,
        });
        await cloud.StartIngestAsync();
        return cloud;
    }

    /// <summary>Starts an ingest instance and waits until it has subscribed.</summary>
    public async Task StartIngestAsync()
    {
        if (_worker is not null) throw new InvalidOperationException("the ingest already runs");
        _options.ClientId = $"ingest-{++_starts}";
        var worker = new IngestWorker(_options, _db);
        await worker.StartAsync(CancellationToken.None);
        await worker.Ready.WaitAsync(TimeSpan.FromSeconds(60));
        await Until(() => worker.IsConnected, TimeSpan.FromSeconds(30), "the ingest connected");
        _worker = worker;
    }

    /// <summary>Stops the ingest: the cloud is offline (its subscription gone) until <see cref="StartIngestAsync"/>.</summary>
    public async Task StopIngestAsync()
    {
        if (_worker is not { } w) return;
        _worker = null;
        await w.StopAsync(CancellationToken.None);
        w.Dispose();
    }

    /// <summary>Every row for <paramref name="deviceId"/>: (epoch, sequence) and the decidedAt the device wrote into the record.</summary>
    public async Task<List<(string Epoch, long Sequence, string? DecidedAt)>> RowsAsync(string deviceId)
    {
        await using var cmd = _db.CreateCommand("SELECT store_epoch, sequence, body->>'decidedAt' FROM records WHERE device_id = @d");
        cmd.Parameters.AddWithValue("d", deviceId);
        var rows = new List<(string, long, string?)>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync()) rows.Add((r.GetString(0), r.GetInt64(1), r.IsDBNull(2) ? null : r.GetString(2)));
        return rows;
    }

    /// <summary>
    /// Waits until the station's outbox is empty (read from a copy of its store while it runs), then checks the cloud
    /// against the store: every stored record is in the table with the same decision time (so no (device, epoch,
    /// sequence) was reused for another part), and the table holds each key once. Returns the store's records.
    /// </summary>
    public async Task<List<StoredKey>> AssertNothingLostAsync(LiveStation station, TimeSpan drainTimeout)
    {
        var sw = Stopwatch.StartNew();
        List<StoredKey> stored;
        long pending;
        while (true)
        {
            (stored, pending) = ReadStore(station);
            if (pending == 0) break;
            Assert.True(sw.Elapsed < drainTimeout,
                $"{pending} records still pending after {drainTimeout.TotalSeconds:0} s (ingest stored {_worker?.Inserted})\n{station.Tail()}");
            await Task.Delay(500);
        }
        var rows = await RowsAsync(station.DeviceId);
        var byKey = rows.GroupBy(r => (r.Epoch, r.Sequence)).ToDictionary(g => g.Key, g => g.ToList());
        var reused = byKey.Where(kv => kv.Value.Count > 1).Select(kv => kv.Key).Take(5).ToList();
        Assert.True(reused.Count == 0, $"(epoch, sequence) keys at the cloud with more than one part: {string.Join(", ", reused)}");
        var missing = stored.Where(s => !byKey.ContainsKey((s.Epoch, s.Sequence))).ToList();
        Assert.True(missing.Count == 0,
            $"{missing.Count} of {stored.Count} stored records missing at the cloud, e.g. {string.Join(", ", missing.Take(5))}");
        var different = stored.Where(s => byKey[(s.Epoch, s.Sequence)][0].DecidedAt != s.DecidedAt).Take(5).ToList();
        Assert.True(different.Count == 0, $"keys the cloud holds for another part: {string.Join(", ", different)}");
        return stored;
    }

    /// <summary>The store's records as (epoch, sequence, decidedAt), and how many are pending.</summary>
    public static (List<StoredKey> Records, long Pending) ReadStore(LiveStation station)
    {
        using var snap = station.Snapshot();
        var records = new List<StoredKey>();
        foreach (var json in snap.Store.RecordJsons())
        {
            var root = JsonDocument.Parse(json).RootElement;
            records.Add(new StoredKey(root.GetProperty("storeEpoch").GetString() ?? "", root.GetProperty("sequence").GetInt64(),
                root.GetProperty("decidedAt").GetString(), root.TryGetProperty("partId", out var p) ? p.GetString() : null,
                root.TryGetProperty("failReason", out var f) ? f.GetString() : null));
        }
        return (records, snap.Store.PendingCount);
    }

    /// <summary>Polls a copy of the store until its highest sequence passes <paramref name="above"/>; returns its records.</summary>
    public static async Task<List<StoredKey>> WaitForSequenceAboveAsync(LiveStation station, long above, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            var (records, _) = ReadStore(station);
            if (records.Count > 0 && records.Max(r => r.Sequence) > above) return records;
            if (sw.Elapsed > timeout) Assert.Fail($"no record above sequence {above} within {timeout.TotalSeconds:0} s\n{station.Tail()}");
            if (!station.IsRunning) Assert.Fail($"the station exited with {station.ExitCode}\n{station.Tail()}");
            await Task.Delay(500);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopIngestAsync();
        await _db.DisposeAsync();
    }
}

/// <summary>One stored record as the fault suite compares it: its key, decision time, part and fail-safe reason.</summary>
internal sealed record StoredKey(string Epoch, long Sequence, string? DecidedAt, string? PartId, string? FailReason);
