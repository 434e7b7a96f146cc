using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;

namespace EdgeInspect.Fleet.Protocol.Transfer;

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
