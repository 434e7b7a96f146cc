using System.Text;
using System.Text.Json.Nodes;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Storage;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Station.Fleet.Commands;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Commands;

/// <summary>The durable replay record (command-accepted audit events), per-key budgets, and the audit of refusals.</summary>
public sealed class CommandReplayTests : IDisposable
{
    private const string Device = "dev-01";
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);
    private readonly TestOperators _ops = new();
    private readonly FakeTimeProvider _time = new(Start);

    public void Dispose() => _ops.Dispose();

    private CommandProcessor Create(IInspectionStore store, CommandOptions? options = null, List<string>? calls = null)
    {
        var p = new CommandProcessor(options ?? new CommandOptions(), _ops.Security(Device), _time, store);
        p.Register("status", OperatorRole.Observe, (c, _) =>
        {
            if (calls is not null) lock (calls) calls.Add(c.Id);
            return ValueTask.FromResult<JsonNode?>(new JsonObject());
        });
        return p;
    }

    private static byte[] Sign(System.Security.Cryptography.ECDsa key, string id, DateTimeOffset expires) =>
        TestOperators.Sign(key, Device, "status", id, expires, issued: Start);

    [Fact]
    public async Task ProcessAsync_ReplayAfterRestart_NewProcessorOverSameStoreRefuses()
    {
        using var store = new InMemoryInspectionStore();
        var calls = new List<string>();
        var payload = Sign(_ops.Operator, "c1", Start.AddMinutes(2));
        Assert.True((await Create(store, calls: calls).ProcessAsync("status", payload, default)).Ok);
        _time.Advance(TimeSpan.FromMinutes(1));

        var restarted = Create(store, calls: calls);
        var replay = await restarted.ProcessAsync("status", payload, default);

        Assert.Equal(CommandErrors.Replayed, replay.Error);
        Assert.Equal(1, restarted.RememberedIds);
        Assert.Equal(["c1"], calls);
    }

    [Fact]
    public async Task Constructor_IdsPastTheirExpiry_NotReloaded()
    {
        using var store = new InMemoryInspectionStore();
        await Create(store).ProcessAsync("status", Sign(_ops.Operator, "c1", Start.AddMinutes(1)), default);
        _time.Advance(TimeSpan.FromMinutes(10));

        var restarted = Create(store);

        Assert.Equal(0, restarted.RememberedIds);
    }

    [Fact]
    public async Task ProcessAsync_OneKeysReplayBudgetFull_OtherKeyStillAccepted()
    {
        using var store = new InMemoryInspectionStore();
        var p = Create(store, new CommandOptions { MaxReplayEntries = 5 });
        for (var i = 0; i < 5; i++) Assert.True((await p.ProcessAsync("status", Sign(_ops.Operator, $"f{i}", Start.AddMinutes(1)), default)).Ok);

        var flooder = await p.ProcessAsync("status", Sign(_ops.Operator, "f9", Start.AddMinutes(1)), default);
        var other = await p.ProcessAsync("status", Sign(_ops.Observer, "o1", Start.AddMinutes(1)), default);

        Assert.Equal(CommandErrors.Busy, flooder.Error);
        Assert.True(other.Ok);
    }

    [Fact]
    public async Task ProcessAsync_UnauthenticatedFlood_AuditedAtMostTwentyPerSecondRestCounted()
    {
        using var store = new InMemoryInspectionStore();
        var p = Create(store);
        var unsigned = Encoding.UTF8.GetBytes("{\"id\":\"x\",\"expiresAt\":\"2026-11-23T10:01:00Z\",\"actor\":\"someone\"}");
        for (var i = 0; i < 100; i++) Assert.Equal(CommandErrors.Unsigned, (await p.ProcessAsync("status", unsigned, default)).Error);
        _time.Advance(TimeSpan.FromSeconds(1));

        await p.ProcessAsync("status", unsigned, default);

        var refusals = store.AuditEvents().Where(e => e.Kind == CommandProcessor.RefusedKind).ToList();
        Assert.Equal(21, refusals.Count);
        Assert.All(refusals, e => Assert.Equal("anonymous", e.Actor));
        Assert.Contains("+80 unauthenticated refusals", refusals[^1].Reason);
    }

    [Fact]
    public async Task ProcessAsync_StoreCannotWriteReplayRecord_InternalAndHandlerNotRun()
    {
        using var inner = new InMemoryInspectionStore();
        var calls = new List<string>();
        var p = Create(new FailingAuditStore(inner), calls: calls);

        var reply = await p.ProcessAsync("status", Sign(_ops.Operator, "c1", Start.AddMinutes(1)), default);

        Assert.Equal(CommandErrors.Internal, reply.Error);
        Assert.Contains("disk full", reply.Reason);
        Assert.Empty(calls);
    }

    /// <summary>A store whose audit append fails, as a full disk would.</summary>
    private sealed class FailingAuditStore(IInspectionStore inner) : IInspectionStore
    {
        public void Append(InspectionRecord record) => inner.Append(record);
        public void AppendAudit(AuditEvent auditEvent) => throw new IOException("disk full");
        public DeviceState LoadState() => inner.LoadState();
        public void SaveState(DeviceState state) => inner.SaveState(state);
        public IEnumerable<InspectionRecord> Records(DateTimeOffset? since = null) => inner.Records(since);
        public IEnumerable<AuditEvent> AuditEvents(DateTimeOffset? since = null) => inner.AuditEvents(since);
        public void Dispose() => inner.Dispose();
    }
}
