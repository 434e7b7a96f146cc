using System.Security.Cryptography;
using System.Text.Json;
using EdgeInspect.Fleet.Protocol.Transfer;

namespace EdgeInspect.Station.Fleet.Transfer;

/// <summary>
/// Receives a chunked package into a spool folder so a transfer survives a dropped link and a restart
/// (ARCHITECTURE.md "Local store": partly received packages survive a restart). Layout per package:
/// <c>&lt;spool&gt;/&lt;packageId&gt;/offer.json</c> and <c>chunks/&lt;index&gt;</c>; each chunk is written to a temp
/// file, flushed and renamed, so a chunk file that exists is whole and already hash-checked. A repeated offer with
/// the same id, size and hash resumes; a different one restarts the transfer. Not thread-safe: one caller.
/// </summary>
public sealed class PackageReceiver
{
    private const string OfferFile = "offer.json";
    private const string ChunkDir = "chunks";
    public const string ArchiveFile = "package.tar";

    private readonly string _spool;
    private readonly TransferLimits _limits;
    private readonly Dictionary<string, (TransferOffer Offer, bool[] Have, int Count)> _open = new(StringComparer.Ordinal);

    public PackageReceiver(string spoolDirectory, TransferLimits limits)
    {
        _spool = spoolDirectory;
        _limits = limits;
        Directory.CreateDirectory(_spool);
    }

    /// <summary>Transfers with a persisted offer (partial or complete), for status and resume after restart.</summary>
    public IReadOnlyList<string> PendingPackageIds() =>
        Directory.EnumerateDirectories(_spool).Where(d => File.Exists(Path.Combine(d, OfferFile))).Select(Path.GetFileName).OfType<string>().Order().ToList();

    public OfferResult Offer(TransferOffer offer)
    {
        if (offer.Problem(_limits) is { } problem) return new(false, problem, []);
        var dir = Path.Combine(_spool, offer.PackageId);
        var existing = Load(offer.PackageId);
        if (existing is { } e && e.Offer with { Rollback = offer.Rollback } == offer)
        {
            _open[offer.PackageId] = e with { Offer = offer };
            return new(true, null, MissingOf(e.Have));
        }
        Discard(offer.PackageId);
        Directory.CreateDirectory(Path.Combine(dir, ChunkDir));
        WriteAtomic(Path.Combine(dir, OfferFile), offer.ToBytes());
        var have = new bool[offer.ChunkCount];
        _open[offer.PackageId] = (offer, have, 0);
        return new(true, null, MissingOf(have));
    }

    public IReadOnlyList<int> Missing(string packageId) =>
        Load(packageId) is { } s ? MissingOf(s.Have) : [];

    public TransferOffer? OfferOf(string packageId) => Load(packageId)?.Offer;

    public ChunkResult Accept(in TransferChunk chunk)
    {
        if (!TransferIds.IsValid(chunk.PackageId)) return new(ChunkStatus.Rejected, $"packageId '{chunk.PackageId}' is invalid");
        if (Load(chunk.PackageId) is not { } state) return new(ChunkStatus.Rejected, $"no offer for package '{chunk.PackageId}'");
        var (offer, have, count) = state;
        if (chunk.Index < 0 || chunk.Index >= offer.ChunkCount)
            return new(ChunkStatus.Rejected, $"chunk index {chunk.Index} is outside 0..{offer.ChunkCount - 1}", Missing: offer.ChunkCount - count);
        var expected = offer.ExpectedChunkLength(chunk.Index);
        if (chunk.Data.Length != expected)
            return new(ChunkStatus.Rejected, $"chunk {chunk.Index} has {chunk.Data.Length} bytes, expected {expected} (truncated)", Missing: offer.ChunkCount - count);
        if (!string.Equals(TransferChunk.Hash(chunk.Data.Span), chunk.Sha256, StringComparison.OrdinalIgnoreCase))
            return new(ChunkStatus.Rejected, $"chunk {chunk.Index} SHA-256 does not match its header", Missing: offer.ChunkCount - count);
        if (have[chunk.Index]) return new(ChunkStatus.Duplicate, null, Missing: offer.ChunkCount - count);

        var dir = Path.Combine(_spool, offer.PackageId);
        WriteAtomic(Path.Combine(dir, ChunkDir, chunk.Index.ToString(System.Globalization.CultureInfo.InvariantCulture)), chunk.Data.Span);
        have[chunk.Index] = true;
        count++;
        _open[offer.PackageId] = (offer, have, count);
        if (count < offer.ChunkCount) return new(ChunkStatus.Stored, null, Missing: offer.ChunkCount - count);
        return Assemble(offer, dir);
    }

    /// <summary>
    /// The sender says it sent everything: a transfer that still lacks chunks is a truncated stream and is refused
    /// with how many are missing (the partial data stays, so a later offer can resume it).
    /// </summary>
    public ChunkResult End(string packageId)
    {
        if (Load(packageId) is not { } s) return new(ChunkStatus.Rejected, $"no offer for package '{packageId}'");
        var missing = MissingOf(s.Have);
        if (missing.Count == 0)
        {
            var archive = Path.Combine(_spool, packageId, ArchiveFile);
            return File.Exists(archive) ? new(ChunkStatus.Complete, null, archive) : Assemble(s.Offer, Path.Combine(_spool, packageId));
        }
        return new(ChunkStatus.Rejected, $"truncated chunk stream: {missing.Count} of {s.Offer.ChunkCount} chunks missing (first {missing[0]})", Missing: missing.Count);
    }

    public void Discard(string packageId)
    {
        if (!TransferIds.IsValid(packageId)) return;
        _open.Remove(packageId);
        var dir = Path.Combine(_spool, packageId);
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    }

    private ChunkResult Assemble(TransferOffer offer, string dir)
    {
        var archive = Path.Combine(dir, ArchiveFile);
        var tmp = archive + ".tmp";
        using (var output = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            var buffer = new byte[offer.ChunkSize];
            for (var i = 0; i < offer.ChunkCount; i++)
            {
                var path = Path.Combine(dir, ChunkDir, i.ToString(System.Globalization.CultureInfo.InvariantCulture));
                using var input = File.OpenRead(path);
                int n;
                while ((n = input.Read(buffer)) > 0)
                {
                    hash.AppendData(buffer, 0, n);
                    output.Write(buffer, 0, n);
                }
            }
            output.Flush(flushToDisk: true);
            var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
            if (!string.Equals(actual, offer.Sha256, StringComparison.OrdinalIgnoreCase))
            {
                output.Dispose();
                Discard(offer.PackageId);
                return new(ChunkStatus.Corrupt, $"archive SHA-256 {actual[..12]}... differs from the offer's {offer.Sha256[..12]}...");
            }
        }
        File.Move(tmp, archive, overwrite: true);
        Directory.Delete(Path.Combine(dir, ChunkDir), recursive: true);
        Directory.CreateDirectory(Path.Combine(dir, ChunkDir));
        return new(ChunkStatus.Complete, null, archive);
    }

    private (TransferOffer Offer, bool[] Have, int Count)? Load(string packageId)
    {
        if (_open.TryGetValue(packageId, out var s)) return s;
        if (!TransferIds.IsValid(packageId)) return null;
        var dir = Path.Combine(_spool, packageId);
        var offerPath = Path.Combine(dir, OfferFile);
        if (!File.Exists(offerPath)) return null;
        TransferOffer? offer;
        try
        {
            offer = JsonSerializer.Deserialize<TransferOffer>(File.ReadAllBytes(offerPath), TransferOffer.Json);
        }
        catch (JsonException)
        {
            offer = null;
        }
        if (offer is null || offer.Problem(_limits) is not null)
        {
            Directory.Delete(dir, recursive: true);
            return null;
        }
        var have = new bool[offer.ChunkCount];
        var count = 0;
        if (File.Exists(Path.Combine(dir, ArchiveFile)))
        {
            Array.Fill(have, true);
            count = offer.ChunkCount;
        }
        else
        {
            var chunkDir = Path.Combine(dir, ChunkDir);
            Directory.CreateDirectory(chunkDir);
            foreach (var file in Directory.EnumerateFiles(chunkDir))
            {
                // Temp files of a chunk interrupted mid-write are dropped; renamed files are whole (see WriteAtomic).
                if (int.TryParse(Path.GetFileName(file), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var i)
                    && i < offer.ChunkCount && new FileInfo(file).Length == offer.ExpectedChunkLength(i))
                {
                    if (!have[i]) count++;
                    have[i] = true;
                }
                else
                {
                    File.Delete(file);
                }
            }
        }
        var state = (offer, have, count);
        _open[packageId] = state;
        return state;
    }

    private static List<int> MissingOf(bool[] have)
    {
        var list = new List<int>();
        for (var i = 0; i < have.Length; i++) if (!have[i]) list.Add(i);
        return list;
    }

    private static void WriteAtomic(string path, ReadOnlySpan<byte> data)
    {
        var tmp = path + ".tmp";
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            fs.Write(data);
            fs.Flush(flushToDisk: true);
        }
        File.Move(tmp, path, overwrite: true);
    }
}
