using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;

namespace EdgeInspect.Core.Packages.Transfer;

/// <summary>
/// Announces a package archive before its chunks: the receiver checks the size limit here, before a byte of
/// payload arrives, and answers with the chunks it still lacks (so a resumed transfer sends only those).
/// </summary>
public sealed record TransferOffer(string PackageId, long TotalSize, int ChunkCount, int ChunkSize, string Sha256, bool Rollback = false)
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    /// <summary>The length chunk <paramref name="index"/> must have.</summary>
    public int ExpectedChunkLength(int index) =>
        index < ChunkCount - 1 ? ChunkSize : (int)(TotalSize - ((long)ChunkSize * (ChunkCount - 1)));

    /// <summary>A one-line reason when the offer is inconsistent or over the limits; null when acceptable.</summary>
    public string? Problem(TransferLimits limits)
    {
        if (!TransferIds.IsValid(PackageId)) return $"packageId '{PackageId}' is not 1-64 characters of [A-Za-z0-9._-]";
        if (TotalSize <= 0) return "totalSize must be positive";
        if (TotalSize > limits.MaxPackageBytes) return $"package of {TotalSize} bytes is over this device's limit of {limits.MaxPackageBytes} bytes";
        if (ChunkSize <= 0 || ChunkSize > limits.MaxChunkBytes) return $"chunkSize {ChunkSize} is outside 1..{limits.MaxChunkBytes}";
        var expectedCount = (TotalSize + ChunkSize - 1) / ChunkSize;
        if (ChunkCount != expectedCount) return $"chunkCount {ChunkCount} does not match totalSize/chunkSize ({expectedCount})";
        if (Sha256 is null || Sha256.Length != 64 || !Sha256.All(Uri.IsHexDigit)) return "sha256 is not 64 hex digits";
        return null;
    }
}

public sealed class TransferLimits
{
    /// <summary>Largest package archive a device accepts (the offer is refused above it).</summary>
    public long MaxPackageBytes { get; set; } = 256L * 1024 * 1024;
    /// <summary>Largest chunk; must stay under the broker's and the client's maximum packet size.</summary>
    public int MaxChunkBytes { get; set; } = 256 * 1024;
}

public static class TransferIds
{
    /// <summary>IDs go into topics and folder names: no '+', '#', '/' (MQTT 5 section 4.7) and no path tricks.</summary>
    public static bool IsValid(string? id) =>
        id is { Length: > 0 and <= 64 } && id != "." && id != ".." &&
        id.All(c => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '_' or '-');
}

/// <summary>
/// One chunk on the wire: a 2-byte big-endian header length, a UTF-8 JSON header {packageId, index, sha256},
/// then the raw bytes. Binary payload, so no base64 inflation; the per-chunk hash catches a corrupted chunk
/// at once instead of only at the end.
/// </summary>
public readonly record struct TransferChunk(string PackageId, int Index, string Sha256, ReadOnlyMemory<byte> Data)
{
    private sealed record Header(string PackageId, int Index, string Sha256);

    public static string Hash(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(SHA256.HashData(data));

    public static TransferChunk Create(string packageId, int index, ReadOnlyMemory<byte> data) =>
        new(packageId, index, Hash(data.Span), data);

    public byte[] Encode()
    {
        var header = JsonSerializer.SerializeToUtf8Bytes(new Header(PackageId, Index, Sha256), TransferOffer.Json);
        var buf = new byte[2 + header.Length + Data.Length];
        BinaryPrimitives.WriteUInt16BigEndian(buf, checked((ushort)header.Length));
        header.CopyTo(buf, 2);
        Data.Span.CopyTo(buf.AsSpan(2 + header.Length));
        return buf;
    }

    /// <summary>Decodes a chunk; false with a reason for anything malformed.</summary>
    public static bool TryDecode(ReadOnlyMemory<byte> payload, out TransferChunk chunk, out string? reason)
    {
        chunk = default;
        if (payload.Length < 2) { reason = "chunk shorter than its header length"; return false; }
        int len = BinaryPrimitives.ReadUInt16BigEndian(payload.Span);
        if (len == 0 || payload.Length < 2 + len) { reason = "chunk header length exceeds the payload"; return false; }
        Header? h;
        try
        {
            h = JsonSerializer.Deserialize<Header>(payload.Span.Slice(2, len), TransferOffer.Json);
        }
        catch (JsonException ex)
        {
            reason = $"chunk header is not JSON ({ex.Message})";
            return false;
        }
        if (h is null || h.PackageId is null || h.Sha256 is null) { reason = "chunk header lacks packageId or sha256"; return false; }
        chunk = new TransferChunk(h.PackageId, h.Index, h.Sha256, payload[(2 + len)..]);
        reason = null;
        return true;
    }
}
