using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeInspect.Cloud.Ingest;
using EdgeInspect.Cloud.Ingest.Intake;
using EdgeInspect.Cloud.Ingest.Parsing;
using EdgeInspect.Cloud.Ingest.Schema;
using EdgeInspect.Cloud.Ingest.Writing;
using EdgeInspect.Cloud.Reports;
using EdgeInspect.Cloud.Tests.Ingest;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;
using EdgeInspect.Core.Telemetry;
using EdgeInspect.TestSupport;
using Npgsql;
using Xunit;

namespace EdgeInspect.Cloud.Tests.Reports;

/// <summary>
/// The fleet report against a real PostgreSQL: known messages in the devices' own JSON shapes go through the ingest's
/// parser and writer, and every figure of the report is checked against what they say.
/// </summary>
public sealed class FleetReportTests(PostgresFixture pg) : IClassFixture<PostgresFixture>, IAsyncLifetime
{
    private static readonly DateTimeOffset Now = DateTimeOffset.UtcNow;
    private readonly List<IngestMessage> _messages = [];
    private readonly Dictionary<string, long> _sequences = [];
    private NpgsqlDataSource _db = null!;
    private IngestOptions _options = null!;

    public async Task InitializeAsync()
    {
        if (pg.Cluster is null) return;
        var cs = await pg.Cluster.CreateDatabaseAsync("r" + Guid.NewGuid().ToString("N")[..12]);
        _options = new IngestOptions { ConnectionString = cs, RetentionDays = 0 };
        _db = NpgsqlDataSource.Create(cs);
        await SchemaMigrator.MigrateAsync(_db);
        await new PartitionMaintainer(_db, _options).MaintainAsync();
    }

    public async Task DisposeAsync()
    {
        if (_db is not null) await _db.DisposeAsync();
    }

    [PostgresFact]
    public async Task ReadAsync_StatusOfFourDevices_ActiveAndCandidateModelPerDevice()
    {
        Status("dev-1", "online", "shadow", active: ("defects", "3"), candidate: ("defects", "4"));
        Status("dev-2", "offline", "full", active: ("defects", "3"), candidate: null);
        await WriteAsync();

        var view = await FleetQueries.ReadAsync(_db);

        Assert.Equal(["dev-1", "dev-2"], view.Devices.Select(d => d.DeviceId));
        var one = view.Devices[0];
        Assert.Equal(("online", "shadow"), (one.State, one.Mode));
        Assert.Equal(new FleetView.ModelRef("defects", "3"), one.Active);
        Assert.Equal(new FleetView.ModelRef("defects", "4"), one.Candidate);
        Assert.Null(view.Devices[1].Candidate);
        Assert.Equal("offline", view.Devices[1].State);
    }

    [PostgresFact]
    public async Task ReadAsync_FleetEventsAndStatus_RolloutStatePerDevicePerModelVersion()
    {
        // dev-1: v4 installed, shadowing as the candidate
        Event("dev-1", "package-installed", -50, "pkg-4", "defects v4 (slot b)");
        Status("dev-1", "online", "shadow", ("defects", "3"), ("defects", "4"));
        // dev-2: v4 installed, promoted, then rolled back by the device's watch
        Event("dev-2", "package-installed", -50, "pkg-4", "defects v4 (slot b)");
        Event("dev-2", "model-promoted", -40, "defects v3 (slot a)", "defects v4 (slot b)");
        Event("dev-2", "model-auto-rollback", -30, "defects v4 (slot b)", "defects v3 (slot a)");
        Status("dev-2", "online", "full", ("defects", "3"), null);
        // dev-3: v4 installed and promoted; v3 stays in the previous slot
        Event("dev-3", "package-installed", -50, "pkg-4", "defects v4 (slot b)");
        Event("dev-3", "model-promoted", -40, "defects v3 (slot a)", "defects v4 (slot b)");
        Status("dev-3", "online", "full", ("defects", "4"), null);
        // dev-4: v4 installed, then its shadow trial rejected it
        Event("dev-4", "package-installed", -50, "pkg-4", "defects v4 (slot b)");
        Event("dev-4", "candidate-rejected", -20, "defects v4 (slot b)", null);
        Status("dev-4", "online", "full", ("defects", "3"), null);
        await WriteAsync();

        var view = await FleetQueries.ReadAsync(_db);

        var v4 = Assert.Single(view.Rollouts, r => r.Model == new FleetView.ModelRef("defects", "4"));
        Assert.Equal([("dev-1", "candidate"), ("dev-2", "rolled-back"), ("dev-3", "active"), ("dev-4", "rejected")],
            v4.Devices.Select(d => (d.DeviceId, d.State)));
        Assert.Equal(At(-30), v4.Devices[1].Since);
        var v3 = Assert.Single(view.Rollouts, r => r.Model == new FleetView.ModelRef("defects", "3"));
        Assert.Equal([("dev-1", "active"), ("dev-2", "active"), ("dev-3", "installed"), ("dev-4", "active")],
            v3.Devices.Select(d => (d.DeviceId, d.State)));
        Assert.Equal(["defects v4", "defects v3"], view.Rollouts.Select(r => $"{r.Model.Name} v{r.Model.Version}"));
        var text = Text(view);
        Assert.Contains("defects v4: active 1 (dev-3); candidate 1 (dev-1); rolled-back 1 (dev-2); rejected 1 (dev-4)", text, StringComparison.Ordinal);
    }

    [PostgresFact]
    public async Task ReadAsync_AlarmsRaisedAndCleared_OnlyTheOnesNotClearedAreOpen()
    {
        Status("dev-1", "online", "full", ("defects", "3"), null);
        Alarm("dev-1", raised: true, "temperature", -600, 81.5);
        Alarm("dev-1", raised: true, "drift", -500, 3.2);
        Alarm("dev-1", raised: false, "drift", -200, 0.4);
        Alarm("dev-2", raised: true, "dropRate", -100, 0.2);
        Alarm("dev-2", raised: false, "dropRate", -90, 0.0);
        Alarm("dev-2", raised: true, "dropRate", -60, 0.3);
        await WriteAsync();

        var view = await FleetQueries.ReadAsync(_db);

        var one = Assert.Single(view.Devices, d => d.DeviceId == "dev-1");
        var alarm = Assert.Single(one.OpenAlarms);
        Assert.Equal(("temperature", At(-600), "81.5"), (alarm.Name, alarm.Since, alarm.Value));
        var two = Assert.Single(view.Devices, d => d.DeviceId == "dev-2");
        Assert.Equal(("dropRate", At(-60)), (Assert.Single(two.OpenAlarms).Name, two.OpenAlarms[0].Since));
        Assert.Contains("2 alarms open", Text(view), StringComparison.Ordinal);
    }

    [PostgresFact]
    public async Task ReadAsync_TelemetrySnapshots_LatestDriftScoreAndHighestOfTheHour()
    {
        Status("dev-1", "online", "full", ("defects", "3"), null);
        Telemetry("dev-1", -7200, drift: 9.0);   // over an hour ago: not in the hour's maximum
        Telemetry("dev-1", -1800, drift: 2.5);
        Telemetry("dev-1", -60, drift: 0.75);
        Telemetry("dev-1", -30, drift: null);    // no frames in that interval: no score, the one before stays the latest
        await WriteAsync();

        var view = await FleetQueries.ReadAsync(_db);

        var drift = Assert.Single(view.Devices).Drift;
        Assert.NotNull(drift);
        Assert.Equal(0.75, drift.Latest, 6);
        Assert.Equal(Truncate(At(-60), TimeSpan.FromTicks(10)), drift.LatestAt); // PostgreSQL keeps microseconds
        Assert.Equal(2.5, drift.MaxHour!.Value, 6);
    }

    [PostgresFact]
    public async Task ReadAsync_RecordsOverThreeDays_PartsAndNgPerHourAndPerDay()
    {
        // (seconds ago, parts, NG): the expected buckets are computed from the same times, whatever the hour now
        (int Ago, int Parts, int Ng)[] plan = [(-600, 10, 2), (-7200, 6, 3), (-2 * 86400, 4, 1), (-9 * 86400, 5, 5)];
        foreach (var (ago, parts, ng) in plan) Records("dev-1", ago, parts, ng);
        Records("dev-2", -600, 3, 0);
        await WriteAsync();

        var view = await FleetQueries.ReadAsync(_db, days: 7);

        var hourStart = Truncate(Now, TimeSpan.FromHours(1)).AddHours(-23);
        var dayStart = Truncate(Now, TimeSpan.FromDays(1)).AddDays(-6);
        var all = plan.Select(p => (At: At(p.Ago), p.Parts, p.Ng)).Append((At: At(-600), Parts: 3, Ng: 0)).ToArray();
        var hours = all.Where(x => x.At >= hourStart).GroupBy(x => Truncate(x.At, TimeSpan.FromHours(1)))
            .Select(g => (g.Key, (long)g.Sum(x => x.Parts), (long)g.Sum(x => x.Ng))).OrderBy(x => x.Key).ToArray();
        var days = all.Where(x => x.At >= dayStart).GroupBy(x => Truncate(x.At, TimeSpan.FromDays(1)))
            .Select(g => (g.Key, (long)g.Sum(x => x.Parts), (long)g.Sum(x => x.Ng))).OrderBy(x => x.Key).ToArray();
        Assert.Equal(hours, view.Hours.Select(p => (p.Start, p.Parts, p.Ng)));
        Assert.Equal(days, view.Days.Select(p => (p.Start, p.Parts, p.Ng)));
        // the 9-day-old parts are outside both windows; the 2-day-old ones are in the days only
        Assert.Equal(23L, view.Days.Sum(p => p.Parts));
        Assert.Equal(19L, view.Hours.Sum(p => p.Parts));
        var one = Assert.Single(view.Devices, d => d.DeviceId == "dev-1");
        Assert.Equal((10L, 2L, 16L, 5L), (one.PartsHour, one.NgHour, one.PartsDay, one.NgDay));
        Assert.Equal(20L, one.Days.Sum(p => p.Parts));
        Assert.Equal(0.5, Assert.Single(view.Hours, p => p.Start == Truncate(At(-7200), TimeSpan.FromHours(1))).NgRate);
        Assert.Contains("parts and NG rate per day", Text(view), StringComparison.Ordinal);
    }

    [PostgresFact]
    public async Task ReadAsync_PairedRecordsOfActiveAndCandidateVersions_AgreementWithWilsonIntervalPerVersion()
    {
        // dev-1 runs v3 with v4 as the candidate: 8 parts paired with the human; v3 agrees on 6, v4 on 7
        for (var i = 1; i <= 8; i++)
        {
            Record("dev-1", -300, "3", Verdict.Ok, model: i <= 6 ? Verdict.Ok : Verdict.Ng, human: Verdict.Ok, candidate: i <= 7 ? Verdict.Ok : Verdict.Ng, candidateVersion: "4");
        }
        // dev-3 runs v4: 5 paired, all agree; and 3 parts with no human verdict, which are not paired
        for (var i = 1; i <= 5; i++) Record("dev-3", -300, "4", Verdict.Ng, model: Verdict.Ng, human: Verdict.Ng);
        for (var i = 1; i <= 3; i++) Record("dev-3", -300, "4", Verdict.Ok, model: Verdict.Ok, human: null);
        await WriteAsync();

        var view = await FleetQueries.ReadAsync(_db);

        var v3 = Assert.Single(view.AgreementByVersion, a => a.Model.Version == "3" && a.Role == "active");
        Assert.Equal((8L, 6L), (v3.Paired, v3.Agreed));
        Assert.Equal((0.4093, 0.9285), (Math.Round(v3.Lower, 4), Math.Round(v3.Upper, 4)));
        var v4 = Assert.Single(view.AgreementByVersion, a => a.Model.Version == "4" && a.Role == "active");
        Assert.Equal((5L, 5L, 0.5655, 1.0), (v4.Paired, v4.Agreed, Math.Round(v4.Lower, 4), Math.Round(v4.Upper, 4)));
        var v4Candidate = Assert.Single(view.AgreementByVersion, a => a.Model.Version == "4" && a.Role == "candidate");
        Assert.Equal((8L, 7L, 0.5291, 0.9776), (v4Candidate.Paired, v4Candidate.Agreed, Math.Round(v4Candidate.Lower, 4), Math.Round(v4Candidate.Upper, 4)));
        var one = Assert.Single(view.Devices, d => d.DeviceId == "dev-1");
        Assert.Equal(("3", 8L, 6L), (Assert.Single(one.Agreement).Model.Version, one.Agreement[0].Paired, one.Agreement[0].Agreed));
        Assert.Contains("defects v3 as active: 6/8 [40.9 %, 92.9 %]", Text(view), StringComparison.Ordinal);
    }

    [PostgresFact]
    public async Task RunAsync_Json_OneObjectWithEverySection()
    {
        Status("dev-1", "online", "shadow", ("defects", "3"), ("defects", "4"));
        Records("dev-1", -60, 4, 1);
        Alarm("dev-1", raised: true, "temperature", -60, 80);
        await WriteAsync();

        var output = new StringWriter();
        Assert.Equal(0, await FleetReport.RunAsync(_db, json: true, output));

        var root = JsonNode.Parse(output.ToString())!.AsObject();
        Assert.Equal(["at", "devices", "hours", "days", "agreementByVersion", "rollouts"], root.Select(kv => kv.Key));
        var device = root["devices"]![0]!;
        Assert.Equal("4", device["candidate"]!["version"]!.GetValue<string>());
        Assert.Equal("temperature", device["openAlarms"]![0]!["name"]!.GetValue<string>());
        Assert.Equal(0.25, root["hours"]![0]!["ngRate"]!.GetValue<double>());
    }

    private static DateTimeOffset At(int secondsAgo) => Now.AddSeconds(secondsAgo);

    private static DateTimeOffset Truncate(DateTimeOffset t, TimeSpan unit) => new(t.UtcTicks - t.UtcTicks % unit.Ticks, TimeSpan.Zero);

    private static string Text(FleetView view)
    {
        var w = new StringWriter();
        FleetReport.Write(view, w);
        return w.ToString();
    }

    private async Task WriteAsync()
    {
        await using var writer = new IngestWriter(_db);
        var batch = new MessageParser(_options).Parse(_messages);
        Assert.Empty(batch.DeadLetters);
        await writer.WriteAsync(batch, CancellationToken.None);
    }

    private void Add(string device, string kind, object payload, DateTimeOffset receivedAt)
    {
        var bytes = payload as byte[] ?? JsonSerializer.SerializeToUtf8Bytes(payload, RecordJson.Options);
        _messages.Add(new IngestMessage($"edgeinspect/{device}/{kind}", bytes, bytes.Length, receivedAt));
    }

    /// <summary>A birth or death as DeviceMqttConnection sends it, with the fleet object of FleetStatusProjection.Status.</summary>
    private void Status(string device, string state, string mode, (string Model, string Version) active, (string Model, string Version)? candidate)
    {
        static JsonObject Slot(string slot, (string Model, string Version) m) => new() { ["slot"] = slot, ["model"] = m.Model, ["version"] = m.Version, ["loaded"] = true };
        var fleet = new JsonObject
        {
            ["mode"] = mode, ["modelState"] = candidate is null ? "serving" : "candidate-shadow",
            ["active"] = Slot("a", active), ["candidate"] = candidate is { } c ? Slot("b", c) : null,
        };
        var status = new JsonObject
        {
            ["state"] = state, ["deviceId"] = device, ["at"] = Now, ["mode"] = mode, ["activeModel"] = active.Model,
            ["activeModelVersion"] = active.Version, ["softwareVersion"] = "1.0.0", ["fleet"] = fleet,
        };
        Add(device, "status", JsonSerializer.SerializeToUtf8Bytes(status), Now);
    }

    /// <summary>A fleet event as FleetMqttBridge publishes it (FleetStatusProjection.EventJson: the audit event's fields).</summary>
    private void Event(string device, string kind, int secondsAgo, string? from, string? to) =>
        Add(device, "events", new AuditEvent(At(secondsAgo), kind, "fleet", "mqtt", from, to, "test"), At(secondsAgo));

    /// <summary>An alarm transition as TelemetryPublisher publishes it: the value in From, the alarm's name in To.</summary>
    private void Alarm(string device, bool raised, string name, int secondsAgo, double value) =>
        Add(device, "events", new AuditEvent(At(secondsAgo), raised ? "alarm.raised" : "alarm.cleared", "telemetry", "telemetry",
            value.ToString("R", System.Globalization.CultureInfo.InvariantCulture), name, $"{name} rule"), At(secondsAgo));

    private void Telemetry(string device, int secondsAgo, double? drift)
    {
        var snapshot = new TelemetrySnapshot(device, At(secondsAgo), 10, new FrameTelemetry(100, 0, 100, 10, 10, 0),
            new Dictionary<string, LatencyPercentiles>(), new ProcessTelemetry(20, 2, 300, 50, null),
            new InputTelemetry(drift is null ? 0 : 100, 0.5, 0.2, 0.1, drift, drift, 0, 0, null),
            new OutputTelemetry(100, new Dictionary<string, long>(), 0, 0));
        Add(device, "telemetry", snapshot, At(secondsAgo));
    }

    private void Records(string device, int secondsAgo, int parts, int ng)
    {
        for (var i = 0; i < parts; i++)
        {
            var v = i < ng ? Verdict.Ng : Verdict.Ok;
            Record(device, secondsAgo, "3", v, model: v, human: null);
        }
    }

    private void Record(string device, int secondsAgo, string version, Verdict verdict, Verdict model, Verdict? human,
        Verdict? candidate = null, string? candidateVersion = null)
    {
        var seq = _sequences[device] = _sequences.GetValueOrDefault(device) + 1;
        var record = new InspectionRecord
        {
            DeviceId = device, Station = "st-1", StoreEpoch = "e1", Sequence = seq, CapturedAt = At(secondsAgo), DecidedAt = At(secondsAgo),
            Mode = AutomationMode.Shadow, ModelName = "defects", ModelVersion = version, Verdict = verdict,
            VerdictSource = human is null ? VerdictSource.Model : VerdictSource.Human, ModelVerdict = model, HumanVerdict = human,
            CandidateVerdict = candidate, CandidateModelVersion = candidateVersion,
        };
        Add(device, "records", record, At(secondsAgo));
    }
}
