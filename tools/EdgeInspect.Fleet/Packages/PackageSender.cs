using System.Formats.Tar;
using System.Security.Cryptography;
using EdgeInspect.Core.Packages;
using EdgeInspect.Fleet.Protocol.Packages;
using EdgeInspect.Fleet.Protocol.Transfer;

namespace EdgeInspect.Fleet.Packages;

/// <summary>
/// The sending side: an offer for an archive file, the signed statement a device checks before it takes a chunk
/// (<see cref="SignedOffer"/>), and the chunks read on demand (the file is not held in memory).
/// </summary>
public sealed class PackageSender : IDisposable
{
    private readonly FileStream _file;
    private readonly Lazy<ModelManifest?> _manifest;

    public PackageSender(string packageId, string archivePath, int chunkSize, bool rollback = false)
    {
        if (!TransferIds.IsValid(packageId)) throw new ArgumentException($"packageId '{packageId}' is not 1-64 characters of [A-Za-z0-9._-]", nameof(packageId));
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(chunkSize);
        _file = File.OpenRead(archivePath);
        var sha = Convert.ToHexStringLower(SHA256.HashData(_file));
        var count = (int)((_file.Length + chunkSize - 1) / chunkSize);
        Offer = new TransferOffer(packageId, _file.Length, count, chunkSize, sha, rollback);
        _manifest = new Lazy<ModelManifest?>(() => ReadManifest(archivePath));
    }

    /// <summary>The offer for the whole archive (size, chunk count, SHA-256), without a statement.</summary>
    public TransferOffer Offer { get; }

    /// <summary>The manifest inside the archive, or null when the archive holds none that parses.</summary>
    public ModelManifest? Manifest => _manifest.Value;

    /// <summary>
    /// The offer with a statement signed by the package key <paramref name="key"/> for <paramref name="target"/>
    /// (<c>device:&lt;id&gt;</c> or <c>fleet:&lt;name&gt;</c>), naming the manifest's package and version.
    /// </summary>
    public TransferOffer SignedOffer(ECDsa key, string target, DateTimeOffset now)
    {
        var m = Manifest ?? throw new PackageRefusedException(RefusalCode.MissingManifest, $"{Offer.PackageId}: the archive holds no readable {PackageVerifier.ManifestFileName} to sign a statement for");
        return Offer with { Statement = PackageStatement.For(Offer, m.Name, m.Version, target, now).Sign(key) };
    }

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

    private static ModelManifest? ReadManifest(string archivePath)
    {
        try
        {
            using var input = File.OpenRead(archivePath);
            using var reader = new TarReader(input);
            while (reader.GetNextEntry() is { } entry)
            {
                if (entry.Name != PackageVerifier.ManifestFileName || entry.DataStream is null || entry.Length > 16L * 1024 * 1024) continue;
                using var ms = new MemoryStream();
                entry.DataStream.CopyTo(ms);
                return PackageVerifier.ParseManifest(ms.ToArray());
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException or IOException or PackageRefusedException)
        {
        }
        return null;
    }
}
