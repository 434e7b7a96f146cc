using EdgeInspect.Core.Domain;
using EdgeInspect.Storage.LiteDb;
using EdgeInspect.Storage.LiteDb.Collections;
using Xunit;

namespace EdgeInspect.Storage.Tests.Recovery;

/// <summary>Corrupt store files for real (random bytes over the file), then reopen and use them as the station does.</summary>
public sealed class StoreRecoveryTests : IDisposable
{
    private const int Stored = 300;
    private const int Sent = 200;
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-recovery-").FullName;
    private readonly DateTimeOffset _t0 = new(2026, 11, 23, 8, 0, 0, TimeSpan.Zero);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private string DbPath => Path.Combine(_dir, "store.db");

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(6)]
    public void Reopen_RandomBytesAtEightOffsets_SalvagesAndContinuesAboveOldMaximum(int seed)
    {
        var oldEpoch = Fill();
        Corrupt(seed, headerToo: HeaderDamaged(seed));

        using var store = new LiteDbInspectionStore(new StoreOptions { Path = DbPath });
        // Everything the station and the uplink read, as they read it; a damaged page recovers instead of throwing.
        var before = store.Records().ToList();
        _ = store.ReadBatch(0, 1000);
        _ = store.ReadNewest(100);
        var audit = store.AuditEvents().ToList();
        var stats = store.Statistics();

        var next = store.LoadState().LastSequence + 1;
        Assert.True(next > Stored || store.Epoch != oldEpoch, $"sequence {next} reuses the old file's numbers under its epoch");
        if (store.Recoveries > 0) Assert.NotEqual(oldEpoch, store.Epoch);
        store.Append(LiteDbInspectionStoreTests.Record(next, _t0.AddHours(1)));
        var after = store.Records().ToList();
        Assert.Equal(after.Count, after.Select(r => (r.StoreEpoch, r.Sequence)).Distinct().Count());
        Assert.DoesNotContain(after.Where(r => r.Sequence == next), r => r.StoreEpoch == oldEpoch && r.Sequence <= Stored);
        Assert.Equal(store.Epoch, after[^1].StoreEpoch);

        // Recovery is counted and audited once per file moved aside; the count is the files beside the live one.
        Assert.Equal(store.Recoveries, store.AuditEvents().Count(a => a.Kind == "store.recovered"));
        Assert.True(audit.Count >= store.Recoveries);
        Assert.Equal(store.Recoveries, LiteDbInspectionStore.CountCorruptFiles(DbPath));
        Assert.Equal(store.Statistics().RecoveredCorruptFiles, LiteDbInspectionStore.CountCorruptFiles(DbPath));
        Assert.True(stats.Records <= Stored + 0L);
        if (HeaderDamaged(seed)) Assert.Equal(1, store.Recoveries);

        // No unsent record that survived is lost to the uplink: every salvaged record above the sent ones is pending.
        var pending = store.ReadBatch(0, 10_000).Select(i => i.Offset).ToHashSet();
        Assert.All(before.Where(r => r.Sequence > Sent && r.StoreEpoch == oldEpoch), r => Assert.Contains(r.Sequence, pending));
    }

    [Fact]
    public void Reopen_OnlyTheHeaderPageDestroyed_NothingReadableYetTheSequenceContinuesAboveTheOldMaximum()
    {
        var oldEpoch = Fill();
        var bytes = new byte[8192];
        new Random(16).NextBytes(bytes);
        using (var f = new FileStream(DbPath, FileMode.Open, FileAccess.Write)) f.Write(bytes);

        using var store = new LiteDbInspectionStore(new StoreOptions { Path = DbPath });

        Assert.Equal(1, store.Recoveries);
        Assert.NotEqual(oldEpoch, store.Epoch);
        // LiteDB cannot open the file without its header; the records' own bytes still say how far the numbers went.
        Assert.True(store.LoadState().LastSequence >= Stored, $"high-water {store.LoadState().LastSequence}, old maximum {Stored}");
    }

    [Fact]
    public void Reopen_HeaderDestroyed_RecoveryAuditedWithSalvageAndNewEpoch()
    {
        var oldEpoch = Fill();
        Corrupt(seed: 9, headerToo: true);

        using var store = new LiteDbInspectionStore(new StoreOptions { Path = DbPath });

        Assert.Equal(1, store.Recoveries);
        Assert.NotEqual(oldEpoch, store.Epoch);
        var recovered = Assert.Single(store.AuditEvents(), a => a.Kind == "store.recovered");
        Assert.StartsWith(DbPath + ".corrupt-", recovered.From);
        Assert.Contains("new epoch " + store.Epoch, recovered.Reason);
        Assert.Equal(1, store.Statistics().RecoveredCorruptFiles);
        // The snapshot `store stats` reads is a temp copy with no corrupt file beside it; the count beside the live file is 1.
        using var snapshot = LiteDbInspectionStore.OpenSnapshot(DbPath);
        Assert.Equal(0, snapshot.Store.Statistics().RecoveredCorruptFiles);
        Assert.Equal(1, LiteDbInspectionStore.CountCorruptFiles(DbPath));
    }

    [Fact]
    public void Reopen_DataPagesDamaged_SalvagedRecordsKeepTheirEpochAndUnsentStayPending()
    {
        var oldEpoch = Fill();
        Corrupt(seed: 1, headerToo: false);

        using var store = new LiteDbInspectionStore(new StoreOptions { Path = DbPath });
        var records = store.Records().ToList();

        Assert.Equal(1, store.Recoveries);
        Assert.InRange(records.Count, 1, Stored - 1);
        Assert.All(records, r => Assert.Equal(oldEpoch, r.StoreEpoch));
        Assert.True(store.LoadState().LastSequence >= records.Max(r => r.Sequence));
        var reason = Assert.Single(store.AuditEvents(), a => a.Kind == "store.recovered").Reason!;
        Assert.Contains($"salvaged {records.Count} records", reason);
        var pending = store.ReadBatch(0, 10_000).Select(i => i.Offset).ToHashSet();
        Assert.All(records.Where(r => r.Sequence > Sent), r => Assert.Contains(r.Sequence, pending));
    }

    [Fact]
    public void Reopen_OutboxPageHeadersDestroyed_EverySalvagedRecordStaysPending()
    {
        var oldEpoch = Fill();
        Assert.True(DestroyPageHeadersOf(StoreSchema.Outbox) > 0, "no outbox data page found in the file");

        using var store = new LiteDbInspectionStore(new StoreOptions { Path = DbPath });
        var records = store.Records().ToList();
        var pending = store.ReadBatch(0, 10_000).Select(i => i.Offset).ToHashSet();

        // The rebuild cannot name the collection of a page whose header is gone, so the outbox reads as whole but
        // short: taking its word would call the unsent records sent, and they would never be uploaded.
        Assert.Equal(1, store.Recoveries);
        Assert.NotEmpty(records);
        Assert.All(records.Where(r => r.StoreEpoch == oldEpoch), r => Assert.Contains(r.Sequence, pending));
    }

    [Fact]
    public void Reopen_StateUnreadableOutboxWhole_ParkedItemsStayParkedWithTheirReasons()
    {
        Fill();
        using (var store = new LiteDbInspectionStore(new StoreOptions { Path = DbPath }))
        {
            Assert.True(store.Park(250, "quota exceeded (0x97)"));
            Assert.True(store.Park(251, "payload format invalid (0x99)"));
        }
        // Valid pages, invalid content: LiteDB reads the file whole, the station cannot read its state.
        using (var db = new LiteDB.LiteDatabase(new LiteDB.Engine.LiteEngine(new LiteDB.Engine.EngineSettings { Filename = DbPath })))
        {
            var state = db.GetCollection(StoreSchema.State);
            var doc = state.FindById(DeviceStateDocument.Id);
            doc["json"] = new byte[] { (byte)'{', 0xff, 0x00 };
            state.Update(doc);
        }

        using var reopened = new LiteDbInspectionStore(new StoreOptions { Path = DbPath });

        Assert.Equal(1, reopened.Recoveries);
        Assert.Equal([(250L, "quota exceeded (0x97)"), (251L, "payload format invalid (0x99)")], reopened.ParkedItems());
        var pending = reopened.ReadBatch(0, 10_000).Select(i => i.Offset).ToList();
        Assert.Equal(Enumerable.Range(Sent + 1, Stored - Sent).Select(i => (long)i).Where(s => s is not 250 and not 251), pending);
    }

    [Fact]
    public void ReadBatch_StoredRecord_WireJsonCarriesTheFileEpoch()
    {
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = DbPath });
        store.Append(LiteDbInspectionStoreTests.Record(1, _t0));

        var payload = System.Text.Encoding.UTF8.GetString(Assert.Single(store.ReadBatch(0, 10)).Payload);

        Assert.Matches("^[0-9a-f]{32}$", store.Epoch);
        Assert.Contains($"\"storeEpoch\":\"{store.Epoch}\"", payload);
    }

    [Fact]
    public void Append_PairedParts_EvidenceCountersKeptInStateAcrossReopen()
    {
        using (var store = new LiteDbInspectionStore(new StoreOptions { Path = DbPath }))
        {
            store.AppendMany([
                LiteDbInspectionStoreTests.Record(1, _t0, Verdict.Ok, human: Verdict.Ok),
                LiteDbInspectionStoreTests.Record(2, _t0, Verdict.Ng, human: Verdict.Ok),
            ]);
            store.Append(LiteDbInspectionStoreTests.Record(3, _t0, Verdict.Ng, human: Verdict.Ng));
            var stale = store.LoadState();
            stale.PairedParts = 0; // a caller's copy never moves the store's counters
            store.SaveState(stale);
        }
        using var reopened = new LiteDbInspectionStore(new StoreOptions { Path = DbPath });
        var state = reopened.LoadState();
        Assert.Equal(3, state.PairedParts);
        Assert.Equal(2, state.AgreedParts);
        Assert.Equal(3, state.LastSequence);
    }

    [Fact]
    public void Open_StateWrittenBeforeEvidenceCounters_CountsThemOnceFromTheRecords()
    {
        using (var store = new LiteDbInspectionStore(new StoreOptions { Path = DbPath }))
        {
            store.Append(LiteDbInspectionStoreTests.Record(1, _t0, Verdict.Ok, human: Verdict.Ok));
            store.Append(LiteDbInspectionStoreTests.Record(2, _t0, Verdict.Ng, human: Verdict.Ok));
            store.Append(LiteDbInspectionStoreTests.Record(3, _t0, Verdict.Ng, human: Verdict.Ng));
        }
        // Rewrite the state as an older build stored it: no counters, no marker.
        using (var db = new LiteDB.LiteDatabase(new LiteDB.ConnectionString { Filename = DbPath }))
        {
            var state = db.GetCollection("state");
            var doc = state.FindById("device");
            var json = System.Text.Json.Nodes.JsonNode.Parse(doc["json"].AsBinary)!.AsObject();
            json.Remove("pairedParts");
            json.Remove("agreedParts");
            state.Upsert(new LiteDB.BsonDocument { ["_id"] = "device", ["json"] = System.Text.Encoding.UTF8.GetBytes(json.ToJsonString()) });
        }

        using var reopened = new LiteDbInspectionStore(new StoreOptions { Path = DbPath });
        var counted = reopened.LoadState();

        Assert.Equal(3, counted.PairedParts);
        Assert.Equal(2, counted.AgreedParts);
        Assert.Equal(3, counted.LastSequence);
    }

    private static bool HeaderDamaged(int seed) => seed % 3 == 0;

    /// <summary>Stores <see cref="Stored"/> records (a mix of verdicts), marks the first <see cref="Sent"/> sent, closes; returns the epoch.</summary>
    private string Fill()
    {
        // Checkpoints by a small log, so the records are in the data file the test damages (not only in its log).
        using var store = new LiteDbInspectionStore(new StoreOptions { Path = DbPath, CheckpointLogBytes = 64 * 1024 });
        for (var i = 1; i <= Stored; i += 10)
        {
            store.AppendMany([.. Enumerable.Range(i, 10).Select(s =>
                LiteDbInspectionStoreTests.Record(s, _t0.AddSeconds(s), s % 7 == 0 ? Verdict.Ng : Verdict.Ok, human: s % 11 == 0 ? Verdict.Ng : null))]);
        }
        store.RemoveUpTo(Sent);
        store.AppendAudit(new Core.Storage.AuditEvent(_t0, "mode-change", "test", "cli", "shadow", "assist", "filled"));
        return store.Epoch;
    }

    /// <summary>
    /// Overwrites the 32-byte header of every data page of <paramref name="collection"/> with random bytes; returns how
    /// many. LiteDB 5.0 page header: page type at byte 4 (4 = data), the owning collection's page id at byte 19; the
    /// header page holds the collection names and page ids as a BSON document at byte 192.
    /// </summary>
    private int DestroyPageHeadersOf(string collection)
    {
        const int PageSize = 8192, PageTypeOffset = 4, ColIdOffset = 19, CollectionsOffset = 192, DataPage = 4;
        var file = File.ReadAllBytes(DbPath);
        var collectionsLength = BitConverter.ToInt32(file, CollectionsOffset);
        var collections = LiteDB.BsonSerializer.Deserialize(file.AsSpan(CollectionsOffset, collectionsLength).ToArray());
        var colId = (uint)collections[collection].AsInt32;
        var random = new Random(7);
        var destroyed = 0;
        for (var page = PageSize; page + PageSize <= file.Length; page += PageSize)
        {
            if (file[page + PageTypeOffset] != DataPage || BitConverter.ToUInt32(file, page + ColIdOffset) != colId) continue;
            random.NextBytes(file.AsSpan(page, 32));
            destroyed++;
        }
        File.WriteAllBytes(DbPath, file);
        return destroyed;
    }

    /// <summary>4 KiB of random bytes at 8 offsets spread over the data file (the first page too when <paramref name="headerToo"/>).</summary>
    private void Corrupt(int seed, bool headerToo)
    {
        var random = new Random(seed);
        using var f = new FileStream(DbPath, FileMode.Open, FileAccess.ReadWrite);
        var length = f.Length;
        var chunk = new byte[4096];
        for (var k = 0; k < 8; k++)
        {
            long offset = k == 0 && headerToo ? 0 : 8192 + (length - 8192 - chunk.Length) * k / 8 + random.Next(0, 4096);
            random.NextBytes(chunk);
            f.Position = offset;
            f.Write(chunk);
        }
    }
}
