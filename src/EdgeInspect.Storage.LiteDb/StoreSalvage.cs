using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;
using EdgeInspect.Storage.LiteDb.Collections;
using LiteDB;
using LiteDB.Engine;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace EdgeInspect.Storage.LiteDb;

/// <summary>
/// Reads what is still readable in a database file that was moved aside as corrupt, through LiteDB's own rebuild:
/// LiteDB 5.0.20 rebuilds a file whose header carries its "invalid datafile state" flag when it is opened with
/// <see cref="EngineSettings.AutoRebuild"/>, reading page by page and skipping (and listing in "_rebuild_errors") the
/// pages it cannot read. The flag is set on a temporary copy, so the file moved aside stays as it was for inspection.
/// </summary>
internal static class StoreSalvage
{
    // HeaderPage.P_INVALID_DATAFILE_STATE in LiteDB 5.0.x: a non-zero byte here makes the next AutoRebuild open rebuild.
    private const int InvalidStateFlagOffset = 191;
    private const int PageSize = 8192;

    /// <summary>
    /// What could be read from <paramref name="corruptPath"/> (and its "-log"); no records when nothing could, but the
    /// highest sequence its raw bytes still show, so the fresh file continues above it either way.
    /// </summary>
    public static SalvagedStore Read(string corruptPath)
    {
        var salvaged = ReadThroughLiteDb(corruptPath);
        long raw = 0;
        try
        {
            raw = Math.Max(ScanHighestSequence(corruptPath), File.Exists(corruptPath + "-log") ? ScanHighestSequence(corruptPath + "-log") : 0);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { /* the rebuild's figure stands */ }
        return salvaged with { RawHighestSequence = raw };
    }

    private static ReadOnlySpan<byte> SequenceKey => "\"sequence\":"u8;

    /// <summary>
    /// The highest <c>"sequence":N</c> in the file's bytes: every record's JSON is stored as it is (LiteDB does not
    /// compress), so the numbers of records whose pages LiteDB can no longer walk are still there. The state's
    /// <c>"lastSequence"</c> does not match (the key must open with its quote). A number cut by a block boundary reads
    /// lower than it was, never higher, and a maximum is all this is for.
    /// </summary>
    internal static long ScanHighestSequence(string path)
    {
        const int MaxDigits = 18;
        var keyLength = SequenceKey.Length;
        var buffer = new byte[1 << 20];
        long highest = 0;
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
        var carry = 0;
        while (true)
        {
            var read = f.Read(buffer, carry, buffer.Length - carry);
            var length = carry + read;
            var span = buffer.AsSpan(0, length);
            var at = 0;
            while (true)
            {
                var hit = span[at..].IndexOf(SequenceKey);
                if (hit < 0) break;
                var start = at + hit + keyLength;
                var end = start;
                while (end < length && end - start < MaxDigits && span[end] is >= (byte)'0' and <= (byte)'9') end++;
                // A number running into the end of the buffer is read again with the next chunk.
                if (end == length && read > 0) break;
                long value = 0;
                for (var i = start; i < end; i++) value = value * 10 + (span[i] - '0');
                highest = Math.Max(highest, value);
                at = start;
            }
            if (read == 0) return highest;
            // Keep the tail that may hold a key cut in two, or a key whose digits were not all read.
            carry = Math.Min(length, keyLength + MaxDigits);
            span[(length - carry)..].CopyTo(buffer);
        }
    }

    private static SalvagedStore ReadThroughLiteDb(string corruptPath)
    {
        var dir = Directory.CreateTempSubdirectory("edgeinspect-salvage-").FullName;
        try
        {
            var copy = Path.Combine(dir, "salvage.db");
            File.Copy(corruptPath, copy);
            if (File.Exists(corruptPath + "-log")) File.Copy(corruptPath + "-log", StoreFile.LogPath(copy));
            if (new FileInfo(copy).Length >= PageSize)
            {
                using var f = new FileStream(copy, FileMode.Open, FileAccess.Write);
                f.Position = InvalidStateFlagOffset;
                f.WriteByte(1);
            }
            using var db = new LiteDatabase(new LiteEngine(new EngineSettings { Filename = copy, AutoRebuild = true }));
            return ReadAll(db);
        }
        catch (Exception e) when (StoreFile.IsCorruption(e) || e is UnauthorizedAccessException)
        {
            return SalvagedStore.Nothing(e.Message);
        }
        finally
        {
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }
    }

    private const string RebuildErrors = "_rebuild_errors";

    private static SalvagedStore ReadAll(LiteDatabase db)
    {
        var records = new List<BsonDocument>();
        long unreadable = 0;
        foreach (var d in Tolerant(db, StoreSchema.Records))
        {
            if (IsReadableRecord(d)) records.Add(d);
            else unreadable++;
        }
        long rebuildErrors = db.CollectionExists(RebuildErrors) ? Tolerant(db, RebuildErrors).Count : 0;
        HashSet<long>? unsent = null;
        IReadOnlyDictionary<long, string> parked = new Dictionary<long, string>();
        if (db.CollectionExists(StoreSchema.Outbox))
        {
            // An outbox read only in part cannot tell sent from unsent: every salvaged record stays pending then (the
            // cloud deduplicates a re-sent one; a record taken for sent would never reach it). Only a rebuild that
            // skipped no page at all proves it whole: a skipped page whose own header is damaged is listed under no
            // collection, so the outbox can lose a page without its name in the rebuild's errors.
            var queued = Tolerant(db, StoreSchema.Outbox, out var complete);
            if (complete && rebuildErrors == 0)
            {
                unsent = [.. queued.Where(d => d["_id"].IsInt64).Select(d => d["_id"].AsInt64)];
                parked = OutboxCollection.ParkedAmong(queued);
            }
        }
        var audit = Tolerant(db, StoreSchema.Audit).Where(d => d["json"].IsBinary && d["at"].IsDateTime).ToList();
        DeviceState? state = null;
        string? epoch = null;
        foreach (var d in Tolerant(db, StoreSchema.State))
        {
            try
            {
                if (d["_id"] == DeviceStateDocument.Id) state = JsonSerializer.Deserialize<DeviceState>(d["json"].AsBinary, RecordJson.Options);
                else if (d["_id"] == DeviceStateDocument.EpochId) epoch = d["epoch"].AsString;
            }
            catch (Exception e) when (StoreFile.IsCorruption(e)) { /* that document is lost; the rest still counts */ }
        }
        return new SalvagedStore(records, unsent, audit, state, epoch, unreadable, rebuildErrors, null) { Parked = parked };
    }

    /// <summary>The documents of a collection up to the first one LiteDB cannot read.</summary>
    private static List<BsonDocument> Tolerant(LiteDatabase db, string collection) => Tolerant(db, collection, out _);

    /// <summary>The documents of a collection up to the first one LiteDB cannot read; <paramref name="complete"/>: the read reached the end (whether the rebuild skipped pages of it is the caller's question).</summary>
    private static List<BsonDocument> Tolerant(LiteDatabase db, string collection, out bool complete)
    {
        var docs = new List<BsonDocument>();
        complete = true;
        try
        {
            foreach (var d in db.GetCollection(collection).FindAll()) docs.Add(d);
        }
        catch (Exception e) when (StoreFile.IsCorruption(e))
        {
            complete = false; // keep what was read before the damage
        }
        return docs;
    }

    /// <summary>A record document whose JSON is an <see cref="InspectionRecord"/> with the document's own sequence.</summary>
    private static bool IsReadableRecord(BsonDocument d)
    {
        try
        {
            if (!d["_id"].IsInt64 || !d["json"].IsBinary || !d["at"].IsDateTime || !d["ek"].IsInt64 || !d["size"].IsInt64) return false;
            var r = JsonSerializer.Deserialize<InspectionRecord>(d["json"].AsBinary, RecordJson.Options);
            return r is not null && r.Sequence == d["_id"].AsInt64;
        }
        catch (Exception e) when (StoreFile.IsCorruption(e)) { return false; }
    }
}
