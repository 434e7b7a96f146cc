using System.Text.Json;

namespace EdgeInspect.Fleet.Protocol.Transfer;

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
