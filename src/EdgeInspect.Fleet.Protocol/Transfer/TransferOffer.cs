using System.Text.Json;
using EdgeInspect.Fleet.Protocol.Packages;

namespace EdgeInspect.Fleet.Protocol.Transfer;

/// <summary>
/// Announces a package archive before its chunks: the receiver checks the limits and the signed
/// <see cref="Statement"/> here, before a byte of payload arrives, and answers with the chunks it still lacks (so a
/// resumed transfer sends only those). <see cref="Rollback"/> is informational only: a device never lets a lower
/// version in on the sender's word (see <c>permit-rollback</c>).
/// </summary>
public sealed record TransferOffer(string PackageId, long TotalSize, int ChunkCount, int ChunkSize, string Sha256, bool Rollback = false,
    SignedStatement? Statement = null)
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    /// <summary>The length chunk <paramref name="index"/> must have.</summary>
    public int ExpectedChunkLength(int index) =>
        index < ChunkCount - 1 ? ChunkSize : (int)(TotalSize - ((long)ChunkSize * (ChunkCount - 1)));

    /// <summary>True when <paramref name="other"/> describes the same archive cut the same way (a resume), whatever its statement.</summary>
    public bool SameTransfer(TransferOffer other) =>
        other is not null && PackageId == other.PackageId && TotalSize == other.TotalSize && ChunkCount == other.ChunkCount
        && ChunkSize == other.ChunkSize && string.Equals(Sha256, other.Sha256, StringComparison.OrdinalIgnoreCase);

    /// <summary>A one-line reason when the offer is inconsistent or over the limits; null when acceptable.</summary>
    public string? Problem(TransferLimits limits) => Check(limits)?.Reason;

    /// <summary>The refusal code and a one-line reason when the offer is inconsistent or over the limits; null when acceptable.</summary>
    public (RefusalCode Code, string Reason)? Check(TransferLimits limits)
    {
        ArgumentNullException.ThrowIfNull(limits);
        if (!TransferIds.IsValid(PackageId)) return (RefusalCode.Malformed, $"packageId '{Clip(PackageId)}' is not 1-64 characters of [A-Za-z0-9._-]");
        if (TotalSize <= 0) return (RefusalCode.Malformed, "totalSize must be positive");
        if (TotalSize > limits.MaxPackageBytes) return (RefusalCode.Oversize, $"package of {TotalSize} bytes is over this device's limit of {limits.MaxPackageBytes} bytes");
        if (ChunkSize <= 0 || ChunkSize > limits.MaxChunkBytes) return (RefusalCode.Malformed, $"chunkSize {ChunkSize} is outside 1..{limits.MaxChunkBytes}");
        // A package smaller than the minimum travels as one chunk; otherwise every chunk but the last is at least the minimum.
        if (ChunkSize < limits.MinChunkBytes && ChunkSize < TotalSize)
            return (RefusalCode.ChunkTooSmall, $"chunkSize {ChunkSize} is under this device's minimum of {limits.MinChunkBytes} bytes");
        var expectedCount = (TotalSize + ChunkSize - 1) / ChunkSize;
        if (ChunkCount != expectedCount) return (RefusalCode.Malformed, $"chunkCount {ChunkCount} does not match totalSize/chunkSize ({expectedCount})");
        if (ChunkCount > limits.MaxChunkCount) return (RefusalCode.TooManyChunks, $"{ChunkCount} chunks is over this device's limit of {limits.MaxChunkCount}");
        if (Sha256 is null || Sha256.Length != 64 || !Sha256.All(Uri.IsHexDigit)) return (RefusalCode.Malformed, "sha256 is not 64 hex digits");
        return null;
    }

    private static string Clip(string? s) => s is null ? "" : s.Length > 64 ? s[..64] + "..." : s;
}
