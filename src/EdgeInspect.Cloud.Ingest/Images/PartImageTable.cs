using EdgeInspect.Fleet.Protocol.Images;
using Npgsql;
using NpgsqlTypes;

namespace EdgeInspect.Cloud.Ingest.Images;

/// <summary>The <c>part_images</c> table (migration 0002) and the dead letters of malformed chunks.</summary>
public sealed class PartImageTable(NpgsqlDataSource db)
{
    /// <summary>True when the image is recorded already (a device that did not hear "done" sends it again).</summary>
    public async Task<bool> ExistsAsync(string deviceId, ImageChunk chunk, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("SELECT 1 FROM part_images WHERE device_id = @d AND store_epoch = @e AND sequence = @s");
        cmd.Parameters.AddWithValue("d", deviceId);
        cmd.Parameters.AddWithValue("e", chunk.Epoch);
        cmd.Parameters.AddWithValue("s", chunk.Sequence);
        return await cmd.ExecuteScalarAsync(ct) is not null;
    }

    /// <summary>Records a stored image (a second insert of the same key is ignored).</summary>
    public async Task InsertAsync(string deviceId, ImageChunk chunk, string relativePath, DateTimeOffset receivedAt, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand(
            "INSERT INTO part_images (device_id, store_epoch, sequence, reason, captured_at, received_at, path, bytes, sha256) " +
            "VALUES (@d, @e, @s, @r, @c, @at, @p, @b, @h) ON CONFLICT DO NOTHING");
        cmd.Parameters.AddWithValue("d", deviceId);
        cmd.Parameters.AddWithValue("e", chunk.Epoch);
        cmd.Parameters.AddWithValue("s", chunk.Sequence);
        cmd.Parameters.AddWithValue("r", chunk.Reason);
        cmd.Parameters.AddWithValue("c", NpgsqlDbType.TimestampTz, chunk.CapturedAt.UtcDateTime);
        cmd.Parameters.AddWithValue("at", NpgsqlDbType.TimestampTz, receivedAt.UtcDateTime);
        cmd.Parameters.AddWithValue("p", relativePath);
        cmd.Parameters.AddWithValue("b", checked((int)chunk.Size));
        cmd.Parameters.AddWithValue("h", chunk.Sha256);
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Keeps a chunk the ingest could not take, with the reason, in <c>dead_letters</c>.</summary>
    public async Task DeadLetterAsync(string topic, string reason, ReadOnlyMemory<byte> payload, int keepBytes, DateTimeOffset receivedAt, CancellationToken ct)
    {
        await using var cmd = db.CreateCommand("INSERT INTO dead_letters (received_at, topic, reason, size, payload) VALUES (@at, @t, @r, @s, @p)");
        cmd.Parameters.AddWithValue("at", NpgsqlDbType.TimestampTz, receivedAt.UtcDateTime);
        cmd.Parameters.AddWithValue("t", topic);
        cmd.Parameters.AddWithValue("r", reason);
        cmd.Parameters.AddWithValue("s", payload.Length);
        cmd.Parameters.AddWithValue("p", payload[..Math.Min(payload.Length, keepBytes)].ToArray());
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
