using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using EdgeInspect.Core.Domain;
using EdgeInspect.Station.Fleet.Commands;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Commands;

/// <summary>Signed device commands over a real Mosquitto on loopback, MQTT 5 response topic + correlation data.</summary>
public sealed class MqttCommandTests
{
    private const string Device = CommandRig.Device;

    [MosquittoFact]
    public async Task SendAsync_ValidAndInvalidCommands_EachAnsweredWithReason()
    {
        await using var rig = await CommandRig.StartAsync(new CommandOptions { MaxPayloadBytes = 4096 });
        var f = rig.Fleet;
        var op = rig.Ops.Operator;

        var set = await rig.SendAsync("set-mode", new JsonObject { ["mode"] = "human", ["reason"] = "maintenance" });
        var status = await rig.SendAsync("status");
        var badMode = await rig.SendAsync("set-mode", new JsonObject { ["mode"] = "turbo" });
        var unknown = await rig.SendAsync("self-destruct");
        var notJson = await f.SendRawAsync(Device, "status", Encoding.UTF8.GetBytes("{oops"), CommandRig.Wait, default);
        var tooBig = await f.SendRawAsync(Device, "status", new byte[100_000], CommandRig.Wait, default);
        var expired = await f.SendRawAsync(Device, "status", TestOperators.Sign(op, Device, "status", "old1", DateTimeOffset.UtcNow.AddMinutes(-10)), CommandRig.Wait, default);
        var once = TestOperators.Sign(op, Device, "status", "once1", DateTimeOffset.UtcNow.AddMinutes(1));
        var first = await f.SendRawAsync(Device, "status", once, CommandRig.Wait, default);
        var replay = await f.SendRawAsync(Device, "status", once, CommandRig.Wait, default);

        Assert.True(set.Ok, set.Reason);
        Assert.Equal("human", status.Result!["mode"]!.GetValue<string>());
        Assert.Equal("bad-args", badMode.Error);
        Assert.Equal("unknown-command", unknown.Error);
        Assert.Equal("malformed", notJson.Error);
        Assert.Equal("too-large", tooBig.Error);
        Assert.Equal("expired", expired.Error);
        Assert.True(first.Ok);
        Assert.Equal("replayed", replay.Error);
        Assert.Equal("human", rig.Modes.Current.ToWire());
        // The audit names the verified key, not anything the sender wrote.
        Assert.Contains(rig.Store.AuditEvents(), e => e.Kind == "mode-change" && e.Actor == $"key:{TestOperators.KeyId(op)} (operator)");
    }

    [MosquittoFact]
    public async Task SendRawAsync_HundredsOfRandomPayloadsOverMqtt_EveryOneAnsweredDeviceStillServes()
    {
        await using var rig = await CommandRig.StartAsync(new CommandOptions { MaxPayloadBytes = 2048 });
        var rng = new Random(6);
        var sw = Stopwatch.StartNew();
        var answered = 0;
        var oversize = 0;
        const int n = 400;
        for (var i = 0; i < n; i++)
        {
            var name = i % 7 == 0 ? "nope" : (i % 2 == 0 ? "status" : "set-mode");
            byte[] payload = (i % 4) switch
            {
                0 => RandomBytes(rng, rng.Next(0, 3000)),
                1 => TestOperators.Sign(rig.Ops.Operator, Device, name, $"f{i}", DateTimeOffset.UtcNow.AddSeconds(30),
                    new JsonObject { ["mode"] = rng.Next(2) == 0 ? "full" : "warp", ["reason"] = "fuzz" }),
                2 => Encoding.UTF8.GetBytes($"{{\"id\":{rng.Next()},\"x\":[{new string('[', rng.Next(1, 40))}"),
                _ => TestOperators.Sign(rig.Ops.Observer, Device, name, $"f{i % 50}", DateTimeOffset.UtcNow.AddSeconds(30)),
            };
            if (payload.Length > 2048) oversize++;
            var reply = await rig.Fleet.SendRawAsync(Device, name, payload, CommandRig.Wait, default);
            Assert.True(reply.Ok || !string.IsNullOrEmpty(reply.Reason), $"payload {i} answered without a reason");
            answered++;
        }

        var final = await rig.SendAsync("status");
        Assert.Equal(n, answered);
        Assert.True(final.Ok);
        Assert.True(oversize > 0);
        // Oversize payloads are refused by the processor on their length, before parsing; every payload is counted once.
        Assert.Equal(n + 1, rig.Processor.Accepted + rig.Processor.Refused);
        Assert.Equal(0, rig.Responder.Busy);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), $"took {sw.Elapsed}");
    }

    private static byte[] RandomBytes(Random rng, int n)
    {
        var b = new byte[n];
        rng.NextBytes(b);
        return b;
    }
}
