using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;
using EdgeInspect.Storage.LiteDb;
using Xunit;

namespace EdgeInspect.Storage.Tests.Collections;

/// <summary>The gate's evidence per model in the state document: counted with the records, kept across a reopen.</summary>
public sealed class ModelEvidenceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-evidence-").FullName;
    private readonly DateTimeOffset _t0 = new(2026, 12, 2, 8, 0, 0, TimeSpan.Zero);

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private string DbPath => Path.Combine(_dir, "store.db");

    private InspectionRecord Record(long seq, string version, Verdict model, Verdict? human) => new()
    {
        DeviceId = "dev-1", Station = "st-1", Sequence = seq, CapturedAt = _t0, DecidedAt = _t0, Mode = AutomationMode.Shadow,
        ModelName = "defects", ModelVersion = version, Verdict = human ?? model, VerdictSource = VerdictSource.Human,
        ModelVerdict = model, HumanVerdict = human,
    };

    [Fact]
    public void AppendMany_RecordsOfTwoModels_CountedPerModelAndKeptAcrossReopen()
    {
        using (var store = new LiteDbInspectionStore(new StoreOptions { Path = DbPath }))
        {
            store.AppendMany([
                Record(1, "1", Verdict.Ok, Verdict.Ok),
                Record(2, "1", Verdict.Ng, Verdict.Ok),
                Record(3, "2", Verdict.Ng, Verdict.Ng),
                Record(4, "2", Verdict.Ok, human: null), // no human verdict: not evidence
            ]);
            var stale = store.LoadState();
            stale.ModelEvidence.Clear(); // a caller's copy never moves the store's counters
            stale.CarriedEvidence.Add(new ModelEvidence { Model = "defects", Version = "3", Paired = 50, Agreed = 49 });
            store.SaveState(stale);
        }

        using var reopened = new LiteDbInspectionStore(new StoreOptions { Path = DbPath });
        var state = reopened.LoadState();

        var v1 = ModelEvidence.Find(state.ModelEvidence, "defects", "1")!;
        var v2 = ModelEvidence.Find(state.ModelEvidence, "defects", "2")!;
        Assert.Equal((2L, 1L), (v1.Paired, v1.Agreed));
        Assert.Equal((1L, 1L), (v2.Paired, v2.Agreed));
        Assert.Equal(3, state.PairedParts);
        Assert.Equal(50, Assert.Single(state.CarriedEvidence).Paired);
    }

    [Fact]
    public void Open_StateCountedBeforeThePerModelSplit_CountsItOnceFromTheRecords()
    {
        using (var store = new LiteDbInspectionStore(new StoreOptions { Path = DbPath }))
        {
            store.AppendMany([Record(1, "1", Verdict.Ok, Verdict.Ok), Record(2, "2", Verdict.Ng, Verdict.Ok)]);
        }
        // Rewrite the state as the build before the split stored it: totals, no per-model list, marker 1.
        using (var db = new LiteDB.LiteDatabase(new LiteDB.ConnectionString { Filename = DbPath }))
        {
            var col = db.GetCollection("state");
            var json = System.Text.Json.Nodes.JsonNode.Parse(col.FindById("device")["json"].AsBinary)!.AsObject();
            json.Remove("modelEvidence");
            json.Remove("carriedEvidence");
            col.Upsert(new LiteDB.BsonDocument { ["_id"] = "device", ["json"] = System.Text.Encoding.UTF8.GetBytes(json.ToJsonString()), ["evidence"] = 1 });
        }

        using var reopened = new LiteDbInspectionStore(new StoreOptions { Path = DbPath });
        var state = reopened.LoadState();

        var v1 = ModelEvidence.Find(state.ModelEvidence, "defects", "1")!;
        var v2 = ModelEvidence.Find(state.ModelEvidence, "defects", "2")!;
        Assert.Equal((1L, 1L), (v1.Paired, v1.Agreed));
        Assert.Equal((1L, 0L), (v2.Paired, v2.Agreed));
        Assert.Equal(2, state.PairedParts);
    }

    [Fact]
    public void Add_MoreModelsThanTheBound_DropsTheLeastRecentlyCounted()
    {
        var list = new List<ModelEvidence>();
        for (var v = 1; v <= ModelEvidence.MaxModels; v++) ModelEvidence.Add(list, "m", v.ToString(System.Globalization.CultureInfo.InvariantCulture), 1, 1, sequence: v);
        ModelEvidence.Add(list, "m", "1", 1, 1, sequence: 100); // version 1 counted again: now the most recent

        ModelEvidence.Add(list, "m", "new", 1, 0, sequence: 101);

        Assert.Equal(ModelEvidence.MaxModels, list.Count);
        Assert.Null(ModelEvidence.Find(list, "m", "2"));
        Assert.Equal(2, ModelEvidence.Find(list, "m", "1")!.Paired);
        Assert.NotNull(ModelEvidence.Find(list, "m", "new"));
    }
}
