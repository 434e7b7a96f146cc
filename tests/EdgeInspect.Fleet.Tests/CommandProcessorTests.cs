using System.Text;
using System.Text.Json.Nodes;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Station.Fleet.Commands;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EdgeInspect.Fleet.Tests;

public sealed class CommandProcessorTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 23, 10, 0, 0, TimeSpan.Zero);

    private static (CommandProcessor Processor, FakeTimeProvider Time, List<string> Calls) Create(CommandOptions? options = null)
    {
        var time = new FakeTimeProvider(Start);
        var calls = new List<string>();
        var p = new CommandProcessor(options ?? new CommandOptions(), time);
        p.Register("status", (c, _) => { lock (calls) calls.Add(c.Id); return ValueTask.FromResult<JsonNode?>(new JsonObject { ["mode"] = "shadow" }); });
        p.Register("set-mode", (c, _) =>
        {
            var mode = c.RequiredString("mode");
            if (mode is not ("human" or "shadow")) throw new CommandException("bad-args", $"set-mode: unknown mode '{mode}'");
            return ValueTask.FromResult<JsonNode?>(new JsonObject { ["mode"] = mode });
        });
        p.Register("crash", (_, _) => throw new InvalidOperationException("handler bug"));
        p.Register("slow", async (_, ct) => { await Task.Delay(Timeout.Infinite, ct); return null; });
        return (p, time, calls);
    }

    private static byte[] Env(string id, DateTimeOffset expires, string args = "{}") =>
        Encoding.UTF8.GetBytes($"{{\"id\":\"{id}\",\"expiresAt\":\"{expires:O}\",\"args\":{args}}}");

    [Fact]
    public async Task ProcessAsync_ValidCommand_RunsHandlerAndRepliesWithResult()
    {
        var (p, _, calls) = Create();

        var reply = await p.ProcessAsync("status", Env("c1", Start.AddMinutes(1)), default);

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
        var big = Env("c1", Start.AddMinutes(1), $"{{\"pad\":\"{new string('x', 2000)}\"}}");

        var reply = await p.ProcessAsync("status", big, default);

        Assert.Equal("too-large", reply.Error);
        Assert.Empty(calls);
    }

    [Theory]
    [InlineData("{\"id\":", "malformed")]
    [InlineData("[1,2]", "schema")]
    [InlineData("{\"expiresAt\":\"2026-11-23T10:01:00Z\"}", "schema")]
    [InlineData("{\"id\":\"a/b\",\"expiresAt\":\"2026-11-23T10:01:00Z\"}", "schema")]
    [InlineData("{\"id\":\"c\"}", "schema")]
    [InlineData("{\"id\":\"c\",\"expiresAt\":\"tomorrow\"}", "schema")]
    [InlineData("{\"id\":\"c\",\"expiresAt\":\"2026-11-23T10:01:00Z\",\"args\":[]}", "schema")]
    [InlineData("{\"id\":\"c\",\"expiresAt\":\"2026-11-23T10:01:00Z\",\"sudo\":true}", "schema")]
    [InlineData("{\"id\":\"c\",\"expiresAt\":\"2026-11-23T11:01:00Z\"}", "schema")]
    public async Task ProcessAsync_BadEnvelope_ErrorWithReason(string payload, string expected)
    {
        var (p, _, calls) = Create();

        var reply = await p.ProcessAsync("status", Encoding.UTF8.GetBytes(payload), default);

        Assert.False(reply.Ok);
        Assert.Equal(expected, reply.Error);
        Assert.False(string.IsNullOrWhiteSpace(reply.Reason));
        Assert.Empty(calls);
    }

    [Fact]
    public async Task ProcessAsync_UnknownCommand_ErrorListsKnownCommands()
    {
        var (p, _, _) = Create();

        var reply = await p.ProcessAsync("format-disk", Env("c1", Start.AddMinutes(1)), default);

        Assert.Equal("unknown-command", reply.Error);
        Assert.Contains("set-mode", reply.Reason);
    }

    [Fact]
    public async Task ProcessAsync_Expired_RefusedWithDeviceTime()
    {
        var (p, time, calls) = Create();
        time.Advance(TimeSpan.FromMinutes(2));

        var reply = await p.ProcessAsync("status", Env("c1", Start.AddMinutes(1)), default);

        Assert.Equal("expired", reply.Error);
        Assert.Contains("expired at", reply.Reason);
        Assert.Empty(calls);
    }

    [Fact]
    public async Task ProcessAsync_SameIdTwice_SecondRefusedAsReplay()
    {
        var (p, _, calls) = Create();
        var payload = Env("c1", Start.AddMinutes(1));

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
        for (var i = 0; i < 50; i++) await p.ProcessAsync("status", Env($"c{i}", Start.AddSeconds(10)), default);
        Assert.Equal(50, p.RememberedIds);

        time.Advance(TimeSpan.FromMinutes(1));
        await p.ProcessAsync("status", Env("fresh", time.GetUtcNow().AddSeconds(10)), default);

        Assert.Equal(1, p.RememberedIds);
    }

    [Fact]
    public async Task ProcessAsync_ReplayCacheFull_RefusedAsBusy()
    {
        var (p, _, _) = Create(new CommandOptions { MaxReplayEntries = 3 });
        for (var i = 0; i < 3; i++) Assert.True((await p.ProcessAsync("status", Env($"c{i}", Start.AddMinutes(1)), default)).Ok);

        var reply = await p.ProcessAsync("status", Env("c9", Start.AddMinutes(1)), default);

        Assert.Equal("busy", reply.Error);
    }

    [Fact]
    public async Task ProcessAsync_HandlerRefusesArgs_BadArgsWithReason()
    {
        var (p, _, _) = Create();

        var missing = await p.ProcessAsync("set-mode", Env("c1", Start.AddMinutes(1)), default);
        var wrong = await p.ProcessAsync("set-mode", Env("c2", Start.AddMinutes(1), "{\"mode\":\"turbo\"}"), default);

        Assert.Equal(("bad-args", "set-mode: args.mode is required (a non-empty string)"), (missing.Error, missing.Reason));
        Assert.Equal(("bad-args", "set-mode: unknown mode 'turbo'"), (wrong.Error, wrong.Reason));
    }

    [Fact]
    public async Task ProcessAsync_HandlerThrows_InternalErrorReply()
    {
        var (p, _, _) = Create();

        var reply = await p.ProcessAsync("crash", Env("c1", Start.AddMinutes(1)), default);

        Assert.Equal("internal", reply.Error);
        Assert.Contains("handler bug", reply.Reason);
    }

    [Fact]
    public async Task ProcessAsync_HandlerHangs_TimeoutReply()
    {
        var p = new CommandProcessor(new CommandOptions { HandlerTimeout = TimeSpan.FromMilliseconds(100) }, TimeProvider.System);
        p.Register("slow", async (_, ct) => { await Task.Delay(Timeout.Infinite, ct); return null; });

        var reply = await p.ProcessAsync("slow", Env("c1", DateTimeOffset.UtcNow.AddMinutes(1)), default);

        Assert.Equal("timeout", reply.Error);
    }

    [Fact]
    public void Options_Invalid_ThrowNamingKey()
    {
        var ex = Assert.Throws<ArgumentException>(() => new CommandProcessor(new CommandOptions { MaxPayloadBytes = 10 }, TimeProvider.System));

        Assert.Contains("Fleet:Commands:MaxPayloadBytes", ex.Message);
    }
}
