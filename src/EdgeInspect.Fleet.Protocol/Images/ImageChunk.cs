using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeInspect.Fleet.Protocol.Images;

/// <summary>
/// One chunk of a part image on <c>&lt;prefix&gt;/&lt;device&gt;/images</c>: a 2-byte big-endian header length, a UTF-8 JSON
/// header, then the raw bytes (binary, so no base64 inflation). Every chunk carries the whole image's description, so
/// the ingest can take any chunk first (a resumed upload) and check the assembled image against its size and SHA-256.
/// Chunk <c>i</c> holds bytes <c>[i * ChunkBytes, min(Size, (i + 1) * ChunkBytes))</c>.
/// </summary>
/// <param name="Epoch">The store epoch of the part's record ("" for none).</param>
/// <param name="Sequence">The part's record sequence number.</param>
/// <param name="Reason">Why the device kept it ("disagreement", "failsafe", "lowconfidence", "sample").</param>
/// <param name="CapturedAt">When the part's frame was captured (the ingest files it under that day).</param>
/// <param name="Index">This chunk's number, from 0.</param>
/// <param name="ChunkBytes">Bytes per chunk (the last one may be shorter).</param>
/// <param name="Size">The whole image's bytes.</param>
/// <param name="Sha256">The whole image's SHA-256, lower-case hex.</param>
/// <param name="Data">This chunk's bytes.</param>
public readonly record struct ImageChunk(string Epoch, long Sequence, string Reason, DateTimeOffset CapturedAt, int Index, int ChunkBytes,
    long Size, string Sha256, ReadOnlyMemory<byte> Data)
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private sealed record Header(
        [property: JsonPropertyName("epoch")] string? Epoch,
        [property: JsonPropertyName("sequence")] long Sequence,
        [property: JsonPropertyName("reason")] string? Reason,
        [property: JsonPropertyName("capturedAt")] DateTimeOffset CapturedAt,
        [property: JsonPropertyName("index")] int Index,
        [property: JsonPropertyName("chunkBytes")] int ChunkBytes,
        [property: JsonPropertyName("size")] long Size,
        [property: JsonPropertyName("sha256")] string? Sha256);

    /// <summary>The image's id on the wire, unique per device: "&lt;epoch&gt;-&lt;sequence&gt;".</summary>
    public string Id => IdOf(Epoch, Sequence);

    /// <summary>Chunks in the whole image.</summary>
    public int Count => CountOf(Size, ChunkBytes);

    /// <summary>The id of an image.</summary>
    public static string IdOf(string epoch, long sequence) => $"{epoch}-{sequence}";

    /// <summary>Chunks an image of <paramref name="size"/> bytes takes.</summary>
    public static int CountOf(long size, int chunkBytes) => chunkBytes <= 0 ? 0 : (int)Math.Max(1, (size + chunkBytes - 1) / chunkBytes);

    /// <summary>The wire form.</summary>
    public byte[] Encode()
    {
        var header = JsonSerializer.SerializeToUtf8Bytes(new Header(Epoch, Sequence, Reason, CapturedAt, Index, ChunkBytes, Size, Sha256), Json);
        var buf = new byte[2 + header.Length + Data.Length];
        BinaryPrimitives.WriteUInt16BigEndian(buf, checked((ushort)header.Length));
        header.CopyTo(buf, 2);
        Data.Span.CopyTo(buf.AsSpan(2 + header.Length));
        return buf;
    }

    /// <summary>Decodes and checks a chunk against <paramref name="limits"/>; false with the reason for anything malformed.</summary>
    public static bool TryDecode(ReadOnlyMemory<byte> payload, ImageLimits limits, out ImageChunk chunk, out string? reason)
    {
        ArgumentNullException.ThrowIfNull(limits);
        chunk = default;
        if (payload.Length < 2) { reason = "chunk shorter than its header length"; return false; }
        int len = BinaryPrimitives.ReadUInt16BigEndian(payload.Span);
        if (len == 0 || payload.Length < 2 + len) { reason = "chunk header length exceeds the payload"; return false; }
        Header? h;
        try { h = JsonSerializer.Deserialize<Header>(payload.Span.Slice(2, len), Json); }
        catch (JsonException e) { reason = $"chunk header is not JSON ({e.Message})"; return false; }
        if (h?.Epoch is null || h.Reason is null || h.Sha256 is null) { reason = "chunk header lacks epoch, reason or sha256"; return false; }
        var data = payload[(2 + len)..];
        reason = Check(h, data.Length, limits);
        if (reason is not null) return false;
        chunk = new ImageChunk(h.Epoch, h.Sequence, h.Reason, h.CapturedAt, h.Index, h.ChunkBytes, h.Size, h.Sha256, data);
        return true;
    }

    private static string? Check(Header h, int dataLength, ImageLimits limits)
    {
        if (h.Epoch!.Length > 64 || h.Epoch.IndexOfAny(['/', '\\', '\0', '.']) >= 0) return "epoch must be at most 64 characters without '/', '\\', '.'";
        if (h.Sequence < 0) return "sequence must be >= 0";
        if (!ImageLimits.Reasons.Contains(h.Reason)) return $"reason '{h.Reason}' is not one of {string.Join(", ", ImageLimits.Reasons)}";
        if (h.Sha256!.Length != 64 || !h.Sha256.All(char.IsAsciiHexDigitLower)) return "sha256 must be 64 lower-case hex digits";
        if (h.Size is < 1) return "size must be >= 1";
        if (h.Size > limits.MaxImageBytes) return $"image of {h.Size} bytes is over the {limits.MaxImageBytes}-byte limit";
        if (h.ChunkBytes < limits.MinChunkBytes || h.ChunkBytes > limits.MaxChunkBytes)
        {
            return $"chunkBytes {h.ChunkBytes} is outside {limits.MinChunkBytes}..{limits.MaxChunkBytes}";
        }
        var count = CountOf(h.Size, h.ChunkBytes);
        if (h.Index < 0 || h.Index >= count) return $"index {h.Index} is outside 0..{count - 1}";
        long expected = Math.Min(h.ChunkBytes, h.Size - (long)h.Index * h.ChunkBytes);
        if (dataLength != expected) return $"chunk {h.Index} holds {dataLength} bytes, {expected} expected";
        return null;
    }
}
