using System.Security.Cryptography;
using EdgeInspect.Cloud.Ingest;
using EdgeInspect.Cloud.Ingest.Images;
using EdgeInspect.Fleet.Protocol.Images;
using EdgeInspect.Station.Capture;
using EdgeInspect.Sync.Mqtt;
using EdgeInspect.Sync.Mqtt.Images;
using EdgeInspect.TestSupport;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Npgsql;
using Xunit;
using static EdgeInspect.Cloud.Tests.Ingest.IngestTesting;
using static EdgeInspect.TestSupport.Poll;

namespace EdgeInspect.Cloud.Tests.Ingest.Images;

/// <summary>Part images from a device's capture folder to the ingest's image root and database, over a real Mosquitto and PostgreSQL.</summary>
public sealed class PartImageUploadTests(PostgresFixture pg) : IClassFixture<PostgresFixture>, IDisposable
{
    private const int ChunkBytes = 16 * 1024;
    private static readonly DateTimeOffset Captured = new(2026, 12, 1, 23, 59, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-images-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private sealed class Cloud(IngestWorker worker, PartImageIntake intake, NpgsqlDataSource db) : IAsyncDisposable
    {
        public PartImageIntake Intake => intake;
        public NpgsqlDataSource Db => db;

        public async ValueTask DisposeAsync()
        {
            await intake.StopAsync(CancellationToken.None);
            await worker.StopAsync(CancellationToken.None);
            intake.Dispose();
            worker.Dispose();
            await db.DisposeAsync();
        }
    }

    private async Task<Cloud> StartCloudAsync(string cs, MosquittoBroker broker, string root)
    {
        var options = Options(cs, broker);
        var (worker, db) = await StartWorkerAsync(options);
        var intake = new PartImageIntake(options, new ImageStorageOptions { Root = root }, worker, db);
        await intake.StartAsync(CancellationToken.None);
        await Until(() => intake.IsConnected, TimeSpan.FromSeconds(10), "image intake connected");
        return new Cloud(worker, intake, db);
    }

    private sealed class Device(DeviceMqttConnection connection, PartImageUplink uplink, PartImageFolder folder) : IAsyncDisposable
    {
        public PartImageUplink Uplink => uplink;
        public PartImageFolder Folder => folder;

        public async ValueTask DisposeAsync()
        {
            await uplink.StopAsync(CancellationToken.None);
            uplink.Dispose();
            await connection.DisposeAsync();
        }
    }

    private static async Task<Device> StartDeviceAsync(MosquittoBroker broker, string deviceId, PartImageFolder folder)
    {
        var connection = new DeviceMqttConnection(new MqttUplinkOptions
        {
            Host = broker.Host, Port = broker.Port, DeviceId = deviceId, MinBackoffSeconds = 0.1, MaxBackoffSeconds = 0.5, PingIntervalSeconds = 0.5,
        });
        var uplink = new PartImageUplink(folder, connection, new ImageUplinkOptions { ChunkBytes = ChunkBytes, AckTimeoutSeconds = 2, PollSeconds = 0.2 });
        await connection.StartAsync();
        Assert.True(await connection.WaitConnectedAsync(TimeSpan.FromSeconds(10)), "device connected");
        await uplink.StartAsync(CancellationToken.None);
        return new Device(connection, uplink, folder);
    }

    private static byte[] Image(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private Task<string> DatabaseAsync() => pg.Cluster!.CreateDatabaseAsync("t" + Guid.NewGuid().ToString("N")[..12]);

    [PostgresFact]
    public async Task Upload_ImagesInChunks_StoredPerDeviceAndDayRecordedThenDeletedOnTheDevice()
    {
        await using var broker = await MosquittoBroker.LaunchAsync();
        var cs = await DatabaseAsync();
        var root = Path.Combine(_dir, "cloud");
        await using var cloud = await StartCloudAsync(cs, broker, root);
        var folder = new PartImageFolder(Path.Combine(_dir, "device"));
        var images = new Dictionary<long, byte[]> { [3] = Image(50_000, 3), [7] = Image(ChunkBytes, 7), [9] = Image(1_000, 9) };
        folder.Write("ep1", PartImageName.Format(3, CaptureReason.Disagreement, Captured), images[3]);
        folder.Write("ep1", PartImageName.Format(7, CaptureReason.Sample, Captured), images[7]);
        folder.Write("ep1", PartImageName.Format(9, CaptureReason.FailSafe, Captured), images[9]);
        await using var device = await StartDeviceAsync(broker, "dev-img", folder);

        await Until(() => folder.All().Count == 0, TimeSpan.FromSeconds(30), "every image acknowledged and deleted on the device");

        Assert.Equal(3, device.Uplink.Uploaded);
        Assert.Equal(4 + 1 + 1, cloud.Intake.Chunks); // 50,000 bytes take four 16 KiB chunks
        await using var cmd = cloud.Db.CreateCommand("SELECT sequence, reason, path, bytes, sha256, captured_at FROM part_images WHERE device_id = 'dev-img' ORDER BY sequence");
        await using var r = await cmd.ExecuteReaderAsync();
        var rows = 0;
        while (await r.ReadAsync())
        {
            rows++;
            var seq = r.GetInt64(0);
            var path = r.GetString(2);
            Assert.StartsWith(Path.Combine("dev-img", "2026-12-01"), path, StringComparison.Ordinal);
            var stored = await File.ReadAllBytesAsync(Path.Combine(root, path));
            Assert.Equal(images[seq], stored);
            Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(images[seq])), r.GetString(4));
            Assert.Equal(Captured, r.GetFieldValue<DateTimeOffset>(5));
        }
        Assert.Equal(3, rows);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(root, ".partial"), "*", SearchOption.AllDirectories));
    }

    [PostgresFact]
    public async Task Upload_IngestRestartedMidImage_ResumesAtTheFirstChunkItLacks()
    {
        await using var broker = await MosquittoBroker.LaunchAsync();
        var cs = await DatabaseAsync();
        var root = Path.Combine(_dir, "cloud");
        var image = Image(5 * ChunkBytes + 100, 1);
        var sha = Convert.ToHexStringLower(SHA256.HashData(image));
        // A first ingest took chunks 0 and 1 of the image and then went away (its files stay in the shared root).
        await using (var first = await StartCloudAsync(cs, broker, root))
        {
            for (var i = 0; i < 2; i++)
            {
                var chunk = new ImageChunk("ep1", 5, "disagreement", Captured, i, ChunkBytes, image.Length, sha, image.AsMemory(i * ChunkBytes, ChunkBytes));
                await first.Intake.HandleAsync("edgeinspect/dev-r/images", "dev-r", chunk.Encode(), chunk.Encode().Length, CancellationToken.None);
            }
            Assert.Equal(2, first.Intake.Chunks);
        }
        await using var cloud = await StartCloudAsync(cs, broker, root);
        var folder = new PartImageFolder(Path.Combine(_dir, "device"));
        folder.Write("ep1", PartImageName.Format(5, CaptureReason.Disagreement, Captured), image);
        await using var device = await StartDeviceAsync(broker, "dev-r", folder);

        await Until(() => folder.All().Count == 0, TimeSpan.FromSeconds(30), "image acknowledged and deleted on the device");

        // The device started at chunk 0, heard "next 2", and sent only the four chunks the ingest lacked.
        Assert.Equal(4, cloud.Intake.Chunks);
        await using var cmd = cloud.Db.CreateCommand("SELECT path FROM part_images WHERE device_id = 'dev-r' AND sequence = 5");
        Assert.Equal(image, await File.ReadAllBytesAsync(Path.Combine(root, (string)(await cmd.ExecuteScalarAsync())!)));
    }

    [PostgresFact]
    public async Task Intake_MalformedOversizedAndCorruptChunks_DeadLetteredWithReasonThenAGoodImageStillStored()
    {
        await using var broker = await MosquittoBroker.LaunchAsync();
        var cs = await DatabaseAsync();
        var root = Path.Combine(_dir, "cloud");
        await using var cloud = await StartCloudAsync(cs, broker, root);

        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(broker.Host, broker.Port).WithProtocolVersion(MqttProtocolVersion.V500).Build());
        async Task Publish(byte[] payload) => await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("edgeinspect/dev-bad/images")
            .WithPayload(payload).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await Publish([1, 2, 3, 4, 5]); // header length past the payload
        await Publish(new byte[512 * 1024]); // over the chunk limit
        var small = Image(2000, 4);
        // Announces a SHA-256 the bytes do not have: assembled, checked, refused.
        await Publish(new ImageChunk("ep1", 1, "sample", Captured, 0, ChunkBytes, small.Length, new string('a', 64), small).Encode());
        await Until(() => cloud.Intake.DeadLetters == 3, TimeSpan.FromSeconds(10), "three dead letters");
        client.Dispose();

        var folder = new PartImageFolder(Path.Combine(_dir, "device"));
        folder.Write("ep1", PartImageName.Format(2, CaptureReason.LowConfidence, Captured), small);
        await using var device = await StartDeviceAsync(broker, "dev-bad", folder);
        await Until(() => folder.All().Count == 0, TimeSpan.FromSeconds(30), "the good image stored after the bad chunks");

        await using var cmd = cloud.Db.CreateCommand("SELECT reason FROM dead_letters WHERE topic = 'edgeinspect/dev-bad/images' ORDER BY id");
        await using var r = await cmd.ExecuteReaderAsync();
        var reasons = new List<string>();
        while (await r.ReadAsync()) reasons.Add(r.GetString(0));
        Assert.Equal(3, reasons.Count);
        Assert.Contains("header length exceeds", reasons[0], StringComparison.Ordinal);
        Assert.Contains("over the", reasons[1], StringComparison.Ordinal);
        Assert.Contains("sha256", reasons[2], StringComparison.Ordinal);
        Assert.Equal(1, cloud.Intake.Stored);
    }
}
