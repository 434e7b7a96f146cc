using EdgeInspect.Cloud.Ingest;
using EdgeInspect.TestSupport;
using Npgsql;
using Xunit;
using static EdgeInspect.TestSupport.Poll;

namespace EdgeInspect.Cloud.Tests.Ingest;

/// <summary>Helpers the ingest tests share: options, in-process workers, counts from the database, waiting.</summary>
internal static class IngestTesting
{
    public static IngestOptions Options(string connectionString, MosquittoBroker broker, string? clientId = null) => new()
    {
        ConnectionString = connectionString, BrokerHost = broker.Host, BrokerPort = broker.Port, ClientId = clientId,
        BatchDelayMilliseconds = 20, RetentionDays = 0,
    };

    public static async Task<(IngestWorker Worker, NpgsqlDataSource Db)> StartWorkerAsync(IngestOptions options)
    {
        var db = NpgsqlDataSource.Create(options.ConnectionString);
        var worker = new IngestWorker(options, db);
        await worker.StartAsync(CancellationToken.None);
        await worker.Ready.WaitAsync(TimeSpan.FromSeconds(30));
        await Until(() => worker.IsConnected, TimeSpan.FromSeconds(10), "ingest connected");
        return (worker, db);
    }

    /// <summary>(rows, distinct keys) in records for <paramref name="deviceId"/>.</summary>
    public static async Task<(long Rows, long Distinct)> CountAsync(string connectionString, string deviceId)
    {
        await using var db = NpgsqlDataSource.Create(connectionString);
        await using var cmd = db.CreateCommand("SELECT count(*), count(DISTINCT (store_epoch, sequence)) FROM records WHERE device_id = @d");
        cmd.Parameters.AddWithValue("d", deviceId);
        await using var r = await cmd.ExecuteReaderAsync();
        await r.ReadAsync();
        return (r.GetInt64(0), r.GetInt64(1));
    }

    public static async Task<List<long>> SequencesAsync(string connectionString, string deviceId)
    {
        await using var db = NpgsqlDataSource.Create(connectionString);
        await using var cmd = db.CreateCommand("SELECT sequence FROM records WHERE device_id = @d ORDER BY sequence");
        cmd.Parameters.AddWithValue("d", deviceId);
        var list = new List<long>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync()) list.Add(r.GetInt64(0));
        return list;
    }

}
