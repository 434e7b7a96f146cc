using System.Security.Cryptography;
using System.Text.Json;
using EdgeInspect.Fleet.Protocol.Packages;
using EdgeInspect.Fleet.Protocol.Transfer;

namespace EdgeInspect.Station.Fleet.Transfer;

/// <summary>
/// Receives a chunked package into a spool folder so a transfer survives a dropped link and a restart
/// (ARCHITECTURE.md "Local store": partly received packages survive a restart). Layout per package:
/// <c>&lt;spool&gt;/&lt;packageId&gt;/offer.json</c> and <c>chunks/&lt;index&gt;</c>; each chunk is written to a temp
/// file, flushed and renamed, so a chunk file that exists is whole and already hash-checked. A repeated offer of the
/// same archive resumes; a different one restarts the transfer. An offer is checked before any chunk is taken: limits
/// (size, chunk size and count), the caller's verification (the signed statement), transfers already in flight
/// (<see cref="TransferOptions.MaxConcurrentTransfers"/>) and the disk reserve. Transfers idle for
/// <see cref="TransferOptions.AbandonAfter"/> are deleted at start and by <see cref="Sweep"/>. Not thread-safe: one caller.
/// </summary>
public sealed class PackageReceiver
{
    private const string OfferFile = "offer.json";
    private const string ChunkDir = "chunks";
    public const string ArchiveFile = "package.tar";

    private readonly string _spool;
    private readonly TransferLimits _limits;
    private readonly TransferOptions _options;
    private readonly TimeProvider _time;
    private readonly Action<TransferOffer>? _verify;
    private readonly Func<string, long> _freeBytes;
    private readonly Dictionary<string, (TransferOffer Offer, bool[] Have, int Count)> _open = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _activity = new(StringComparer.Ordinal);
    private long _abandoned;

    /// <param name="verify">Checks an offer beyond the limits (the signed statement, the version floor); throws
    /// <see cref="PackageRefusedException"/> to refuse it. Null: only the limits are checked.</param>
    /// <param name="freeBytes">Free bytes on the file system of a path; the real file system when null.</param>
    public PackageReceiver(string spoolDirectory, TransferLimits limits, TransferOptions? options = null, TimeProvider? time = null,
        Action<TransferOffer>? verify = null, Func<string, long>? freeBytes = null)
    {
        _spool = spoolDirectory;
        _limits = limits;
        _options = options ?? new TransferOptions { MinChunkBytes = limits.MinChunkBytes, MaxChunkCount = limits.MaxChunkCount };
        _time = time ?? TimeProvider.System;
        _verify = verify;
        _freeBytes = freeBytes ?? FreeBytes;
        Directory.CreateDirectory(_spool);
        Sweep();
    }

    /// <summary>Transfers deleted as abandoned (idle past <see cref="TransferOptions.AbandonAfter"/>) or left broken in the spool.</summary>
    public long Abandoned => _abandoned;

    /// <summary>Transfers with a persisted offer (partial or complete), for status and resume after restart.</summary>
    public IReadOnlyList<string> PendingPackageIds() =>
        Directory.EnumerateDirectories(_spool).Where(d => File.Exists(Path.Combine(d, OfferFile))).Select(Path.GetFileName).OfType<string>().Order().ToList();

    /// <summary>
    /// Checks and records an offer; the answer lists the chunks still missing. Refusals carry a wire code
    /// (<see cref="PackageRefusedException.ToWire"/>) and a reason, and leave nothing in the spool.
    /// </summary>
    public OfferResult Offer(TransferOffer offer)
    {
        ArgumentNullException.ThrowIfNull(offer);
        if (offer.Check(_limits) is { } problem) return Refuse(problem.Code, problem.Reason);
        try
        {
            _verify?.Invoke(offer);
        }
        catch (PackageRefusedException e)
        {
            return Refuse(e.Code, e.Message);
        }
        Sweep();
        var dir = Path.Combine(_spool, offer.PackageId);
        var existing = Load(offer.PackageId);
        if (existing is { } e2 && e2.Offer.SameTransfer(offer))
        {
            _open[offer.PackageId] = e2 with { Offer = offer };
            _activity[offer.PackageId] = _time.GetUtcNow();
            return new(true, null, MissingOf(e2.Have));
        }
        var others = PendingPackageIds().Where(id => id != offer.PackageId).ToList();
        if (others.Count >= _options.MaxConcurrentTransfers)
        {
            return Refuse(RefusalCode.TransferBusy,
                $"{others.Count} transfer(s) in flight ({string.Join(", ", others.Take(3))}); this device takes {_options.MaxConcurrentTransfers} at a time, an idle one is abandoned after {_options.AbandonAfter}");
        }
        var free = _freeBytes(_spool);
        if (free - (2 * offer.TotalSize) < _options.ReserveBytes)
        {
            return Refuse(RefusalCode.NoSpace,
                $"{free} bytes free on the spool's disk; {2 * offer.TotalSize} for this package would leave less than the {_options.ReserveBytes} bytes kept for the record store");
        }
        Discard(offer.PackageId);
        Directory.CreateDirectory(Path.Combine(dir, ChunkDir));
        WriteAtomic(Path.Combine(dir, OfferFile), offer.ToBytes());
        var have = new bool[offer.ChunkCount];
        _open[offer.PackageId] = (offer, have, 0);
        _activity[offer.PackageId] = _time.GetUtcNow();
        return new(true, null, MissingOf(have));
    }

    /// <summary>
    /// Deletes transfers idle for longer than <see cref="TransferOptions.AbandonAfter"/> and anything in the spool that is
    /// not a transfer (a folder without its offer, a stray file); runs at start, on every offer and when the caller's
    /// timer says so.
    /// </summary>
    public void Sweep()
    {
        var now = _time.GetUtcNow();
        foreach (var file in Directory.EnumerateFiles(_spool))
        {
            File.Delete(file);
            _abandoned++;
        }
        foreach (var dir in Directory.EnumerateDirectories(_spool))
        {
            var id = Path.GetFileName(dir);
            var offerPath = Path.Combine(dir, OfferFile);
            if (!TransferIds.IsValid(id) || !File.Exists(offerPath))
            {
                Directory.Delete(dir, recursive: true);
                _abandoned++;
                continue;
            }
            if (!_activity.TryGetValue(id, out var last))
            {
                // Known only from disk (after a restart): its newest write is its last activity.
                last = new[] { File.GetLastWriteTimeUtc(offerPath), Directory.GetLastWriteTimeUtc(Path.Combine(dir, ChunkDir)), File.GetLastWriteTimeUtc(Path.Combine(dir, ArchiveFile)) }
                    .Max();
                _activity[id] = last;
            }
            if (now - last > _options.AbandonAfter)
            {
                Discard(id);
                _abandoned++;
            }
        }
    }

    private static OfferResult Refuse(RefusalCode code, string reason) => new(false, reason, [], PackageRefusedException.ToWire(code));

    private static long FreeBytes(string path) => new DriveInfo(Path.GetFullPath(path)).AvailableFreeSpace;

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
        _activity[offer.PackageId] = _time.GetUtcNow();

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
        _activity.Remove(packageId);
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
        if (offer is null || offer.Check(_limits) is not null)
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
