using System.Security.Cryptography;
using EdgeInspect.Fleet.Protocol.Transfer;

namespace EdgeInspect.Fleet.Packages;

/// <summary>The sending side: an offer for an archive file and its chunks read on demand (the file is not held in memory).</summary>
public sealed class PackageSender : IDisposable
{
    private readonly FileStream _file;

    public PackageSender(string packageId, string archivePath, int chunkSize, bool rollback = false)
    {
        if (!TransferIds.IsValid(packageId)) throw new ArgumentException($"packageId '{packageId}' is not 1-64 characters of [A-Za-z0-9._-]", nameof(packageId));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(chunkSize);
        _file = File.OpenRead(archivePath);
        var sha = Convert.ToHexStringLower(SHA256.HashData(_file));
        var count = (int)((_file.Length + chunkSize - 1) / chunkSize);
        Offer = new TransferOffer(packageId, _file.Length, count, chunkSize, sha, rollback);
    }

    /// <summary>The offer for the whole archive (size, chunk count, SHA-256).</summary>
    public TransferOffer Offer { get; }

    /// <summary>Reads chunk <paramref name="index"/> from the file, with its hash.</summary>
    public TransferChunk ReadChunk(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Offer.ChunkCount);
        var data = new byte[Offer.ExpectedChunkLength(index)];
        _file.Position = (long)index * Offer.ChunkSize;
        _file.ReadExactly(data);
        return TransferChunk.Create(Offer.PackageId, index, data);
    }

    public void Dispose() => _file.Dispose();
}
