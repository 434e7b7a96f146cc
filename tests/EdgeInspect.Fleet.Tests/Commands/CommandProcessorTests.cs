using System.Text;
using System.Text.Json.Nodes;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Station.Fleet.Commands;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Commands;

public sealed class CommandProcessorTests : IDisposable
{
    private const string Device = "dev-01";
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);
    private readonly TestOperators _ops = new();

    public void Dispose() => _ops.Dispose();

    private (CommandProcessor Processor, FakeTimeProvider Time, List<string> Calls) Create(CommandOptions? options = null)
    {
        var time = new FakeTimeProvider(Start);
        var calls = new List<string>();
        var p = new CommandProcessor(options ?? new CommandOptions(), _ops.Security(Device), time);
        p.Register("status", OperatorRole.Observe, (c, _) => { lock (calls) calls.Add(c.Id); return ValueTask.FromResult<JsonNode?>(new JsonObject { ["mode"] = "shadow" }); });
        p.Register("set-mode", OperatorRole.Operate, (c, _) =>
        {
            var mode = c.RequiredString("mode");
            if (mode is not ("human" or "shadow")) throw new CommandException("bad-args", $"set-mode: unknown mode '{mode}'");
            return ValueTask.FromResult<JsonNode?>(new JsonObject { ["mode"] = mode });
        });
        p.Register("crash", OperatorRole.Observe, (_, _) => throw new InvalidOperationException("handler bug"));
        p.Register("slow", OperatorRole.Observe, async (_, ct) => { await Task.Delay(Timeout.Infinite, ct); return null; });
        return (p, time, calls);
    }

    /// <summary>A command signed by the operate key for <see cref="Device"/>.</summary>
    private byte[] Env(string command, string id, DateTimeOffset expires, string args = "{}") =>
        TestOperators.Sign(_ops.Operator, Device, command, id, expires, JsonNode.Parse(args)!.AsObject());

    [Fact]
    public async Task ProcessAsync_ValidCommand_RunsHandlerAndRepliesWithResult()
    {
        var (p, _, calls) = Create();

        var reply = await p.ProcessAsync("status", Env("status", "c1", Start.AddMinutes(1)), default);

        Assert.True(reply.Ok);
        Assert.Equal("c1", reply.Id);
        Assert.Equal("shadow", reply.Result!["mode"]!.GetValue<string>());
        Assert.Equal(["c1"], calls);
    }

    [Fact]
    public async Task ProcessAsync_PayloadOverLimit_RefusedBeforeParsing()
    {
        var (p, _, calls) = Create(new CommandOptions { MaxPayloadBytes = 1024 });
        // Valid JSON and a known command: only the size can refuse it, which shows the size is checked first.
        var big = Env("status", "c1", Start.AddMinutes(1), $"{{\"pad\":\"{new string('x', 2000)}\"}}");

        var reply = await p.ProcessAsync("status", big, default);

        Assert.Equal("too-large", reply.Error);
        Assert.Empty(calls);
    }

    [Theory]
    [InlineData("{\"id\":", "malformed")]
    [InlineData("[1,2]", "schema")]
    [InlineData("{\"id\":\"c\",\"expiresAt\":\"2026-11-23T10:01:00Z\"}", "unsigned")]
    [InlineData("{\"id\":\"c\",\"expiresAt\":\"2026-11-23T10:01:00Z\",\"actor\":\"admin\",\"args\":{\"mode\":\"full\",\"force\":true}}", "unsigned")]
    [InlineData("{\"keyId\":\"k\",\"signed\":\"{}\"}", "unsigned")]
    [InlineData("{\"keyId\":\"k\",\"signature\":\"AA==\",\"signed\":\"{}\"}", "unknown-key")]
    [InlineData("{\"keyId\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"signature\":\"AA==\",\"signed\":\"{}\"}", "unknown-key")]
    public async Task ProcessAsync_BadEnvelope_ErrorWithReason(string payload, string expected)
    {
        var (p, _, calls) = Create();

        var reply = await p.ProcessAsync("status", Encoding.UTF8.GetBytes(payload), default);

        Assert.False(reply.Ok);
        Assert.Equal(expected, reply.Error);
        Assert.False(string.IsNullOrWhiteSpace(reply.Reason));
        Assert.Empty(calls);
    }

    [Theory]
    [InlineData("{\"device\":\"dev-01\",\"command\":\"status\",\"issuedAt\":\"2026-11-23T10:00:00Z\",\"expiresAt\":\"2026-11-23T10:01:00Z\"}", "schema")]
    [InlineData("{\"device\":\"dev-01\",\"command\":\"status\",\"id\":\"a/b\",\"issuedAt\":\"2026-11-23T10:00:00Z\",\"expiresAt\":\"2026-11-23T10:01:00Z\"}", "schema")]
    [InlineData("{\"device\":\"dev-01\",\"command\":\"status\",\"id\":\"c\",\"issuedAt\":\"2026-11-23T10:00:00Z\"}", "schema")]
    [InlineData("{\"device\":\"dev-01\",\"command\":\"status\",\"id\":\"c\",\"issuedAt\":\"2026-11-23T10:00:00Z\",\"expiresAt\":\"tomorrow\"}", "schema")]
    [InlineData("{\"device\":\"dev-01\",\"command\":\"status\",\"id\":\"c\",\"issuedAt\":\"2026-11-23T10:00:00Z\",\"expiresAt\":\"2026-11-23T10:01:00Z\",\"args\":[]}", "schema")]
    [InlineData("{\"device\":\"dev-01\",\"command\":\"status\",\"id\":\"c\",\"issuedAt\":\"2026-11-23T10:00:00Z\",\"expiresAt\":\"2026-11-23T10:01:00Z\",\"sudo\":true}", "schema")]
    [InlineData("{\"device\":\"dev-01\",\"command\":\"status\",\"id\":\"c\",\"issuedAt\":\"2026-11-23T10:00:00Z\",\"expiresAt\":\"2026-11-23T11:01:00Z\"}", "schema")]
    [InlineData("{\"device\":\"dev-01\",\"command\":\"status\",\"id\":\"c\",\"issuedAt\":\"2026-11-23T10:03:00Z\",\"expiresAt\":\"2026-11-23T10:04:00Z\"}", "schema")]
    [InlineData("{\"device\":\"dev-02\",\"command\":\"status\",\"id\":\"c\",\"issuedAt\":\"2026-11-23T10:00:00Z\",\"expiresAt\":\"2026-11-23T10:01:00Z\"}", "wrong-device")]
    [InlineData("{\"device\":\"dev-01\",\"command\":\"set-mode\",\"id\":\"c\",\"issuedAt\":\"2026-11-23T10:00:00Z\",\"expiresAt\":\"2026-11-23T10:01:00Z\"}", "wrong-device")]
    [InlineData("not json", "schema")]
    public async Task ProcessAsync_BadSignedStatement_RefusedWithReason(string statement, string expected)
    {
        var (p, _, calls) = Create();

        var reply = await p.ProcessAsync("status", CommandEnvelope.Wrap(statement, _ops.Operator), default);

        Assert.Equal(expected, reply.Error);
        Assert.False(string.IsNullOrWhiteSpace(reply.Reason));
        Assert.Empty(calls);
    }

    [Fact]
    public async Task ProcessAsync_ArgsChangedAfterSigning_BadSignature()
    {
        var (p, _, calls) = Create();
        var statement = CommandEnvelope.Statement(Device, "set-mode", "c1", Start, Start.AddMinutes(1), new JsonObject { ["mode"] = "human" });
        var envelope = JsonNode.Parse(CommandEnvelope.Wrap(statement, _ops.Operator))!.AsObject();
        envelope["signed"] = statement.Replace("human", "full", StringComparison.Ordinal);

        var reply = await p.ProcessAsync("set-mode", Encoding.UTF8.GetBytes(envelope.ToJsonString()), default);

        Assert.Equal("bad-signature", reply.Error);
        Assert.Empty(calls);
    }

    [Fact]
    public async Task ProcessAsync_ObserveKeySetsMode_Forbidden()
    {
        var (p, _, _) = Create();

        var reply = await p.ProcessAsync("set-mode",
            TestOperators.Sign(_ops.Observer, Device, "set-mode", "c1", Start.AddMinutes(1), new JsonObject { ["mode"] = "human" }), default);

        Assert.Equal("forbidden", reply.Error);
        Assert.Contains("operate", reply.Reason);
    }

    [Fact]
    public async Task ProcessAsync_ForceByOperateKey_ForbiddenAndForceByOverrideKeyNeedsDeviceConsent()
    {
        var (p, _, _) = Create();
        var args = new JsonObject { ["mode"] = "human", ["reason"] = "line stop", ["force"] = true };

        var byOperator = await p.ProcessAsync("set-mode", TestOperators.Sign(_ops.Operator, Device, "set-mode", "c1", Start.AddMinutes(1), args), default);
        var byOverride = await p.ProcessAsync("set-mode", TestOperators.Sign(_ops.Override, Device, "set-mode", "c2", Start.AddMinutes(1), args), default);

        Assert.Equal("forbidden", byOperator.Error);
        Assert.Equal("override-disabled", byOverride.Error);
    }

    [Fact]
    public async Task ProcessAsync_ForceAllowedWithoutReason_BadArgs()
    {
        var p = new CommandProcessor(new CommandOptions(), _ops.Security(Device, allowRemoteOverride: true), new FakeTimeProvider(Start));
        string? actor = null;
        p.Register("set-mode", OperatorRole.Operate, (c, _) => { actor = c.Actor; return ValueTask.FromResult<JsonNode?>(null); });

        var noReason = await p.ProcessAsync("set-mode", TestOperators.Sign(_ops.Override, Device, "set-mode", "c1", Start.AddMinutes(1),
            new JsonObject { ["mode"] = "full", ["force"] = true }), default);
        var withReason = await p.ProcessAsync("set-mode", TestOperators.Sign(_ops.Override, Device, "set-mode", "c2", Start.AddMinutes(1),
            new JsonObject { ["mode"] = "full", ["force"] = true, ["reason"] = "trial approved" }), default);

        Assert.Equal("bad-args", noReason.Error);
        Assert.True(withReason.Ok);
        Assert.Equal($"key:{TestOperators.KeyId(_ops.Override)} (overrider)", actor);
    }

    [Fact]
    public async Task ProcessAsync_UnknownCommand_ErrorListsKnownCommands()
    {
        var (p, _, _) = Create();

        var reply = await p.ProcessAsync("format-disk", Env("format-disk", "c1", Start.AddMinutes(1)), default);

        Assert.Equal("unknown-command", reply.Error);
        Assert.Contains("set-mode", reply.Reason);
    }

    [Fact]
    public async Task ProcessAsync_Expired_RefusedWithDeviceTime()
    {
        var (p, time, calls) = Create();
        time.Advance(TimeSpan.FromMinutes(2));

        var reply = await p.ProcessAsync("status", Env("status", "c1", Start.AddMinutes(1)), default);

        Assert.Equal("expired", reply.Error);
        Assert.Contains("expired at", reply.Reason);
        Assert.Empty(calls);
    }

    [Fact]
    public async Task ProcessAsync_SameIdTwice_SecondRefusedAsReplay()
    {
        var (p, _, calls) = Create();
        var payload = Env("status", "c1", Start.AddMinutes(1));

        var first = await p.ProcessAsync("status", payload, default);
        var second = await p.ProcessAsync("status", payload, default);

        Assert.True(first.Ok);
        Assert.Equal("replayed", second.Error);
        Assert.Single(calls);
    }

    [Fact]
    public async Task ProcessAsync_AfterIdsExpire_ReplayCacheForgetsThem()
    {
        var (p, time, _) = Create();
        for (var i = 0; i < 50; i++) await p.ProcessAsync("status", Env("status", $"c{i}", Start.AddSeconds(10)), default);
        Assert.Equal(50, p.RememberedIds);

        time.Advance(TimeSpan.FromMinutes(1));
        await p.ProcessAsync("status", Env("status", "fresh", time.GetUtcNow().AddSeconds(10)), default);

        Assert.Equal(1, p.RememberedIds);
    }

    [Fact]
    public async Task ProcessAsync_ReplayCacheFull_RefusedAsBusy()
    {
        var (p, _, _) = Create(new CommandOptions { MaxReplayEntries = 3 });
        for (var i = 0; i < 3; i++) Assert.True((await p.ProcessAsync("status", Env("status", $"c{i}", Start.AddMinutes(1)), default)).Ok);

        var reply = await p.ProcessAsync("status", Env("status", "c9", Start.AddMinutes(1)), default);

        Assert.Equal("busy", reply.Error);
    }

    [Fact]
    public async Task ProcessAsync_HandlerRefusesArgs_BadArgsWithReason()
    {
        var (p, _, _) = Create();

        var missing = await p.ProcessAsync("set-mode", Env("set-mode", "c1", Start.AddMinutes(1)), default);
        var wrong = await p.ProcessAsync("set-mode", Env("set-mode", "c2", Start.AddMinutes(1), "{\"mode\":\"turbo\"}"), default);

        Assert.Equal(("bad-args", "set-mode: args.mode is required (a non-empty string)"), (missing.Error, missing.Reason));
        Assert.Equal(("bad-args", "set-mode: unknown mode 'turbo'"), (wrong.Error, wrong.Reason));
    }

    [Fact]
    public async Task ProcessAsync_HandlerThrows_InternalErrorReply()
    {
        var (p, _, _) = Create();

        var reply = await p.ProcessAsync("crash", Env("crash", "c1", Start.AddMinutes(1)), default);

        Assert.Equal("internal", reply.Error);
        Assert.Contains("handler bug", reply.Reason);
    }

    [Fact]
    public async Task ProcessAsync_HandlerHangs_TimeoutReply()
    {
        var p = new CommandProcessor(new CommandOptions { HandlerTimeout = TimeSpan.FromMilliseconds(100) }, _ops.Security(Device), TimeProvider.System);
        p.Register("slow", OperatorRole.Observe, async (_, ct) => { await Task.Delay(Timeout.Infinite, ct); return null; });

        var reply = await p.ProcessAsync("slow", Env("slow", "c1", DateTimeOffset.UtcNow.AddMinutes(1)), default);

        Assert.Equal("timeout", reply.Error);
    }

    [Fact]
    public void Options_Invalid_ThrowNamingKey()
    {
        var ex = Assert.Throws<ArgumentException>(() => new CommandProcessor(new CommandOptions { MaxPayloadBytes = 10 }, _ops.Security(Device), TimeProvider.System));

        Assert.Contains("Fleet:Commands:MaxPayloadBytes", ex.Message);
    }
}
