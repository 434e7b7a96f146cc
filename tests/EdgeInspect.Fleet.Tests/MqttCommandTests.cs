using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using EdgeInspect.Fleet.Commands;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Station.Fleet.Commands;
using EdgeInspect.Station.Fleet.Mqtt;
using EdgeInspect.Sync.Mqtt;
using EdgeInspect.TestSupport;
using MQTTnet;
using MQTTnet.Formatter;
using Xunit;

namespace EdgeInspect.Fleet.Tests;

/// <summary>Device commands over a real Mosquitto on loopback, MQTT 5 response topic + correlation data.</summary>
public sealed class MqttCommandTests
{
    private const string Prefix = "ei-test";
    private const string Device = "dev-01";

    private sealed class Rig : IAsyncDisposable
    {
        public required MosquittoBroker Broker { get; init; }
        public required DeviceMqttConnection DeviceClient { get; init; }
        public required IMqttClient FleetClient { get; init; }
        public required MqttCommandResponder Responder { get; init; }
        public required FleetCommandClient Fleet { get; init; }
        public required CommandProcessor Processor { get; init; }
        public string Mode { get; set; } = "shadow";

        public async ValueTask DisposeAsync()
        {
            await Responder.DisposeAsync();
            await Fleet.DisposeAsync();
            await DeviceClient.DisposeAsync();
            FleetClient.Dispose();
            await Broker.DisposeAsync();
        }
    }

    private static async Task<IMqttClient> Connect(MosquittoBroker broker, string id)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(broker.Host, broker.Port)
            .WithProtocolVersion(MqttProtocolVersion.V500).WithClientId(id).Build());
        return client;
    }

    private static async Task<Rig> Start(CommandOptions? options = null)
    {
        var broker = await MosquittoBroker.LaunchAsync();
        var device = await TestPackages.DeviceConnection(broker, Prefix, Device);
        var fleetMqtt = await Connect(broker, "fleet-" + Guid.NewGuid().ToString("N")[..8]);
        var processor = new CommandProcessor(options ?? new CommandOptions(), TimeProvider.System);
        Rig? rig = null;
        processor.Register("status", (_, _) => ValueTask.FromResult<JsonNode?>(new JsonObject { ["mode"] = rig!.Mode }));
        processor.Register("set-mode", (c, _) =>
        {
            var mode = c.RequiredString("mode");
            if (mode is not ("human" or "shadow" or "assist" or "partial" or "full")) throw new CommandException("bad-args", $"set-mode: unknown mode '{mode}'");
            var from = rig!.Mode;
            rig.Mode = mode;
            return ValueTask.FromResult<JsonNode?>(new JsonObject { ["from"] = from, ["to"] = mode });
        });
        var responder = new MqttCommandResponder(device, processor);
        var fleet = new FleetCommandClient(fleetMqtt, Prefix, "tool1", TimeProvider.System);
        await fleet.SubscribeAsync(default);
        rig = new Rig { Broker = broker, DeviceClient = device, FleetClient = fleetMqtt, Responder = responder, Fleet = fleet, Processor = processor };
        return rig;
    }

    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [MosquittoFact]
    public async Task SendAsync_ValidAndInvalidCommands_EachAnsweredWithReason()
    {
        await using var rig = await Start(new CommandOptions { MaxPayloadBytes = 4096 });
        var f = rig.Fleet;

        var set = await f.SendAsync(Device, "set-mode", new JsonObject { ["mode"] = "human" }, Wait, "tester", default);
        var status = await f.SendAsync(Device, "status", null, Wait, "tester", default);
        var badMode = await f.SendAsync(Device, "set-mode", new JsonObject { ["mode"] = "turbo" }, Wait, "tester", default);
        var unknown = await f.SendAsync(Device, "self-destruct", null, Wait, "tester", default);
        var notJson = await f.SendRawAsync(Device, "status", Encoding.UTF8.GetBytes("{oops"), Wait, default);
        var tooBig = await f.SendRawAsync(Device, "status", new byte[100_000], Wait, default);
        var expired = await f.SendRawAsync(Device, "status", Encoding.UTF8.GetBytes($"{{\"id\":\"old1\",\"expiresAt\":\"{DateTimeOffset.UtcNow.AddMinutes(-10):O}\"}}"), Wait, default);
        var once = Encoding.UTF8.GetBytes($"{{\"id\":\"once1\",\"expiresAt\":\"{DateTimeOffset.UtcNow.AddMinutes(1):O}\"}}");
        var first = await f.SendRawAsync(Device, "status", once, Wait, default);
        var replay = await f.SendRawAsync(Device, "status", once, Wait, default);

        Assert.True(set.Ok);
        Assert.Equal("human", status.Result!["mode"]!.GetValue<string>());
        Assert.Equal("bad-args", badMode.Error);
        Assert.Equal("unknown-command", unknown.Error);
        Assert.Equal("malformed", notJson.Error);
        Assert.Equal("too-large", tooBig.Error);
        Assert.Equal("expired", expired.Error);
        Assert.True(first.Ok);
        Assert.Equal("replayed", replay.Error);
        Assert.Equal("human", rig.Mode);
    }

    [MosquittoFact]
    public async Task SendRawAsync_HundredsOfRandomPayloadsOverMqtt_EveryOneAnsweredDeviceStillServes()
    {
        await using var rig = await Start(new CommandOptions { MaxPayloadBytes = 2048 });
        var rng = new Random(6);
        var sw = Stopwatch.StartNew();
        var answered = 0;
        var oversize = 0;
        const int n = 400;
        for (var i = 0; i < n; i++)
        {
            byte[] payload = (i % 4) switch
            {
                0 => RandomBytes(rng, rng.Next(0, 3000)),
                1 => Encoding.UTF8.GetBytes($"{{\"id\":\"f{i}\",\"expiresAt\":\"{DateTimeOffset.UtcNow.AddSeconds(30):O}\",\"args\":{{\"mode\":\"{(rng.Next(2) == 0 ? "full" : "warp")}\"}}}}"),
                2 => Encoding.UTF8.GetBytes($"{{\"id\":{rng.Next()},\"x\":[{new string('[', rng.Next(1, 40))}"),
                _ => Encoding.UTF8.GetBytes($"{{\"id\":\"f{i % 50}\",\"expiresAt\":\"{DateTimeOffset.UtcNow.AddSeconds(30):O}\"}}"),
            };
            if (payload.Length > 2048) oversize++;
            var reply = await rig.Fleet.SendRawAsync(Device, i % 7 == 0 ? "nope" : (i % 2 == 0 ? "status" : "set-mode"), payload, Wait, default);
            Assert.True(reply.Ok || !string.IsNullOrEmpty(reply.Reason), $"payload {i} answered without a reason");
            answered++;
        }

        var final = await rig.Fleet.SendAsync(Device, "status", null, Wait, "tester", default);
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
