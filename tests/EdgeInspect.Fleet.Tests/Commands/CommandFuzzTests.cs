using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Station.Fleet.Commands;
using Microsoft.Extensions.Time.Testing;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Commands;

/// <summary>
/// Thousands of random and malformed payloads through the same processor the device uses: every one is answered
/// (ok or a named error), the processor keeps serving valid commands, its replay cache stays bounded, and memory
/// does not grow with the count. Seeded, bounded in count and time.
/// </summary>
public sealed class CommandFuzzTests : IDisposable
{
    private const int Count = 6000;
    private const string Device = "dev-01";
    private readonly TestOperators _ops = new();

    public void Dispose() => _ops.Dispose();

    private static readonly string[] Names = ["set-mode", "status", "shadow-report", "promote", "rollback", "rebirth", "nope", "", "status/x"];

    [Fact]
    public async Task ProcessAsync_ThousandsOfRandomPayloads_EveryOneAnsweredAndProcessorStaysHealthy()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 23, 10, 0, 0, TimeSpan.Zero));
        var options = new CommandOptions { MaxPayloadBytes = 2048, MaxReplayEntries = 500, MaxLifetime = TimeSpan.FromSeconds(60) };
        var p = new CommandProcessor(options, _ops.Security(Device), time);
        var handled = 0;
        foreach (var n in Names.Take(6))
        {
            p.Register(n, OperatorRole.Observe, (c, _) =>
            {
                Interlocked.Increment(ref handled);
                if (c.Name == "set-mode") c.RequiredString("mode");
                return ValueTask.FromResult<JsonNode?>(new JsonObject { ["ok"] = true });
            });
        }
        var rng = new Random(20261123);
        var errors = new Dictionary<string, int>();
        var sw = Stopwatch.StartNew();
        long memoryAtHalf = 0;

        for (var i = 0; i < Count; i++)
        {
            if (i == Count / 2)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                memoryAtHalf = GC.GetTotalMemory(true);
            }
            time.Advance(TimeSpan.FromMilliseconds(50));
            var name = Names[rng.Next(Names.Length)];
            var reply = await p.ProcessAsync(name, Payload(rng, time.GetUtcNow(), i, name), default);
            Assert.NotNull(reply);
            Assert.True(reply.Ok || (reply.Error is not null && !string.IsNullOrWhiteSpace(reply.Reason)), $"payload {i}: error without a reason");
            var key = reply.Ok ? "ok" : reply.Error!;
            errors[key] = errors.GetValueOrDefault(key) + 1;
            Assert.InRange(p.RememberedIds, 0, options.MaxReplayEntries);
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var memoryAtEnd = GC.GetTotalMemory(true);

        var after = await p.ProcessAsync("status", Signed("status", "final", time.GetUtcNow().AddSeconds(30), null), default);
        Assert.True(after.Ok);
        Assert.Equal(Count + 1, p.Accepted + p.Refused);
        Assert.Equal(p.Accepted, handled - errors.GetValueOrDefault("bad-args"));
        foreach (var kind in new[] { "ok", "malformed", "schema", "unknown-command", "expired", "replayed", "too-large", "unsigned", "bad-signature" })
            Assert.True(errors.GetValueOrDefault(kind) > 0, $"the generator never produced '{kind}': {string.Join(", ", errors)}");
        Assert.True(memoryAtEnd - memoryAtHalf < 4 * 1024 * 1024, $"memory grew by {memoryAtEnd - memoryAtHalf} bytes over {Count / 2} commands");
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), $"took {sw.Elapsed}");
    }

    private byte[] Signed(string command, string id, DateTimeOffset expires, JsonObject? args) =>
        TestOperators.Sign(_ops.Operator, Device, command, id, expires, args);

    private byte[] Payload(Random rng, DateTimeOffset now, int i, string command)
    {
        switch (rng.Next(10))
        {
            case 0: // random bytes
            {
                var b = new byte[rng.Next(0, 300)];
                rng.NextBytes(b);
                return b;
            }
            case 1: // oversize
                return Signed(command, $"big{i}", now.AddSeconds(10), new JsonObject { ["x"] = new string('a', 3000) });
            case 2: // a valid envelope cut at a random point or with a byte flipped
            {
                var b = Valid(now, $"m{i}", rng, command);
                if (rng.Next(2) == 0) return b[..rng.Next(b.Length)];
                b[rng.Next(b.Length)] = (byte)rng.Next(256);
                return b;
            }
            case 3: // wrong shapes, unsigned or signed
            {
                string[] shapes =
                [
                    "null", "42", "\"str\"", "[]", "{}", "{\"id\":7}", "{\"id\":null,\"expiresAt\":null}",
                    $"{{\"id\":\"x{i}\",\"expiresAt\":\"{now.AddSeconds(5):O}\",\"actor\":\"root\"}}", new string('[', 5000),
                    $"{{\"keyId\":\"{TestOperators.KeyId(_ops.Operator)}\",\"signature\":\"{new string('A', 86)}==\",\"signed\":\"{{}}\"}}",
                ];
                if (rng.Next(2) == 0) return Encoding.UTF8.GetBytes(shapes[rng.Next(shapes.Length)]);
                string[] statements =
                [
                    "null", "{}", $"{{\"device\":\"{Device}\",\"command\":\"{command}\",\"id\":7}}",
                    $"{{\"device\":\"{Device}\",\"command\":\"{command}\",\"id\":\"a#b\",\"issuedAt\":\"{now:O}\",\"expiresAt\":\"{now:O}\"}}",
                    $"{{\"device\":\"{Device}\",\"command\":\"{command}\",\"id\":\"s{i}\",\"issuedAt\":\"{now:O}\",\"expiresAt\":\"{now.AddSeconds(5):O}\",\"args\":\"s\"}}",
                    $"{{\"device\":\"{Device}\",\"command\":\"{command}\",\"id\":\"{new string('i', 100)}\",\"issuedAt\":\"{now:O}\",\"expiresAt\":\"{now:O}\"}}",
                ];
                return CommandEnvelope.Wrap(statements[rng.Next(statements.Length)], _ops.Operator);
            }
            case 4: // expired
                return Signed(command, $"e{i}", now.AddMinutes(-5), null);
            case 5: // replay of a recent id
                return Signed(command, $"r{rng.Next(5)}", now.AddSeconds(20), null);
            default:
                return Valid(now, $"v{i}", rng, command);
        }
    }

    private byte[] Valid(DateTimeOffset now, string id, Random rng, string command) =>
        Signed(command, id, now.AddSeconds(rng.Next(1, 50)), new JsonObject { ["mode"] = "shadow" });
}
