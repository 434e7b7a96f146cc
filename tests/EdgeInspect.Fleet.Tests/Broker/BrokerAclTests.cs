using System.Collections.Concurrent;
using System.Text;
using EdgeInspect.TestSupport;
using MQTTnet;
using MQTTnet.Protocol;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Broker;

/// <summary>
/// device-config/broker's Mosquitto config and ACL, run for real over TLS: who may connect, and who may publish and
/// read where. Each "received nothing" is checked against a positive control on the same subscription, so a dead
/// subscription cannot pass for a working ACL.
/// </summary>
public sealed class BrokerAclTests
{
    private const string P = TlsBroker.DefaultPrefix;
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(1);

    [MosquittoFact]
    public async Task Publish_DeviceCertificateIntoAnotherDevicesSubtree_NotAuthorizedAndNotDelivered()
    {
        await using var broker = await TlsBroker.StartAsync(["dev-01", "dev-02"]);
        using var victim = await broker.ConnectAsync("dev-01");
        var seen = Collect(victim);
        await Subscribe(victim, $"{P}/dev-01/#");
        using var intruder = await broker.ConnectAsync("dev-02");

        var results = new List<(string Topic, MqttClientPublishReasonCode Code)>();
        foreach (var topic in new[] { $"{P}/dev-01/cmd/set-mode", $"{P}/dev-01/model/offer", $"{P}/dev-01/records", $"{P}/dev-01/status" })
            results.Add((topic, (await intruder.PublishAsync(Message(topic, "forged", retain: topic.EndsWith("/status", StringComparison.Ordinal)))).ReasonCode));
        var own = await victim.PublishAsync(Message($"{P}/dev-01/records", "own"));
        await Task.Delay(Quiet);

        // Mosquitto answers a QoS 1 PUBLISH it may not route with PUBACK 0x87 (MQTT 5) and drops it.
        Assert.All(results, r => Assert.True(r.Code == MqttClientPublishReasonCode.NotAuthorized, $"{r.Topic}: {r.Code}"));
        Assert.Equal(MqttClientPublishReasonCode.Success, own.ReasonCode);
        Assert.Equal(["own"], seen.Select(m => m.Payload).ToArray());
        await AssertNothingRetainedAsync(broker, "dev-01", $"{P}/dev-01/status");
    }

    [MosquittoFact]
    public async Task Subscribe_DeviceCertificateToAnotherDevicesSubtreeOrReplies_ReceivesNothingOfThem()
    {
        await using var broker = await TlsBroker.StartAsync(["dev-01", "dev-02"]);
        using var spy = await broker.ConnectAsync("dev-02");
        var seen = Collect(spy);
        var suback = await spy.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter($"{P}/dev-01/#", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter($"{P}/fleet/+/replies", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter($"{P}/#", MqttQualityOfServiceLevel.AtLeastOnce)
            .WithTopicFilter("#", MqttQualityOfServiceLevel.AtLeastOnce).Build());
        using var device = await broker.ConnectAsync("dev-01");
        using var fleet = await broker.ConnectAsync(TestCa.Fleet);

        await device.PublishAsync(Message($"{P}/dev-01/records", "dev-01 record"));
        await device.PublishAsync(Message($"{P}/fleet/tool1/replies", "dev-01 reply"));
        await fleet.PublishAsync(Message($"{P}/dev-01/cmd/status", "command for dev-01"));
        await spy.PublishAsync(Message($"{P}/dev-02/records", "dev-02 record"));
        await Task.Delay(Quiet);

        Assert.Equal(
            [MqttClientSubscribeResultCode.GrantedQoS1, MqttClientSubscribeResultCode.GrantedQoS1, MqttClientSubscribeResultCode.GrantedQoS1, MqttClientSubscribeResultCode.GrantedQoS1],
            suback.Items.Select(i => i.ResultCode).ToArray());
        // Its own record arrives (once per matching filter): the filters are live, the ACL filters what they deliver.
        Assert.All(seen, m => Assert.Equal($"{P}/dev-02/records", m.Topic));
        Assert.NotEmpty(seen);
    }

    [MosquittoFact]
    public async Task Publish_FleetIdentity_CommandsReachTheDeviceButDeviceDataCannotBeForged()
    {
        await using var broker = await TlsBroker.StartAsync(["dev-01"]);
        using var device = await broker.ConnectAsync("dev-01");
        var seen = Collect(device);
        await Subscribe(device, $"{P}/dev-01/#");
        using var fleet = await broker.ConnectAsync(TestCa.Fleet);

        var command = await fleet.PublishAsync(Message($"{P}/dev-01/cmd/status", "command"));
        var chunk = await fleet.PublishAsync(Message($"{P}/dev-01/model/chunk", "chunk"));
        var record = await fleet.PublishAsync(Message($"{P}/dev-01/records", "forged record"));
        var status = await fleet.PublishAsync(Message($"{P}/dev-01/status", "forged status"));
        await Task.Delay(Quiet);

        Assert.Equal(MqttClientPublishReasonCode.Success, command.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.Success, chunk.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, record.ReasonCode);
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, status.ReasonCode);
        Assert.Equal(["command", "chunk"], seen.Select(m => m.Payload).ToArray());
    }

    [MosquittoFact]
    public async Task Connect_CertificateFromAnotherCa_RefusedInTheHandshake()
    {
        await using var broker = await TlsBroker.StartAsync(["dev-01"]);
        using var tmp = new TempDir();
        var rogue = await TestCa.MakeAsync(tmp.Sub("rogue"), "dev-01");

        var e = await Assert.ThrowsAnyAsync<Exception>(() => broker.ConnectAsync("dev-01", ca: rogue));

        Assert.IsAssignableFrom<MQTTnet.Exceptions.MqttCommunicationException>(e);
        await Until(() => broker.Broker.ReadLog().Contains("certificate verify failed", StringComparison.Ordinal), "the broker's log names the failed verification");
        using var genuine = await broker.ConnectAsync("dev-01");
        Assert.True(genuine.IsConnected);
    }

    [MosquittoFact]
    public async Task Connect_NoClientCertificate_RefusedInTheHandshake()
    {
        await using var broker = await TlsBroker.StartAsync(["dev-01"]);

        var e = await Assert.ThrowsAnyAsync<Exception>(() => broker.ConnectAsync("dev-01", noCertificate: true));

        Assert.IsAssignableFrom<MQTTnet.Exceptions.MqttCommunicationException>(e);
        await Until(() => broker.Broker.ReadLog().Contains("peer did not return a certificate", StringComparison.Ordinal), "the broker's log names the missing certificate");
    }

    [MosquittoFact]
    public async Task Connect_PlainTcpToTheTlsListener_NoMqttSession()
    {
        await using var broker = await TlsBroker.StartAsync(["dev-01"]);
        using var client = new MqttClientFactory().CreateMqttClient();

        await Assert.ThrowsAnyAsync<Exception>(() => client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(broker.Broker.Host, broker.Broker.Port)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500).WithTimeout(TimeSpan.FromSeconds(3)).Build()));

        Assert.False(client.IsConnected);
    }

    [Fact]
    public async Task MakeTestCa_CloudIdentityOrWildcardAsDeviceId_RefusedExitTwo()
    {
        using var tmp = new TempDir();

        var fleet = await TestCa.RunScriptAsync(tmp.Sub("a"), "fleet");
        var wildcard = await TestCa.RunScriptAsync(tmp.Sub("b"), "dev+1");

        Assert.Equal(2, fleet.Rc);
        Assert.Contains("'fleet' is a cloud identity's name", fleet.Output);
        Assert.Equal(2, wildcard.Rc);
        Assert.Contains("'dev+1'", wildcard.Output);
        Assert.False(File.Exists(Path.Combine(tmp.Path, "a", "ca.pem")));
    }

    private sealed record Seen(string Topic, string Payload);

    private static ConcurrentQueue<Seen> Collect(IMqttClient client)
    {
        var seen = new ConcurrentQueue<Seen>();
        client.ApplicationMessageReceivedAsync += e =>
        {
            seen.Enqueue(new Seen(e.ApplicationMessage.Topic, Encoding.UTF8.GetString(e.ApplicationMessage.Payload)));
            return Task.CompletedTask;
        };
        return seen;
    }

    private static async Task Subscribe(IMqttClient client, string filter)
    {
        var r = await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(filter, MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, r.Items.Single().ResultCode);
    }

    private static MqttApplicationMessage Message(string topic, string payload, bool retain = false) =>
        new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload).WithRetainFlag(retain)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();

    /// <summary>A fresh session of <paramref name="identity"/> subscribing <paramref name="topic"/> gets no retained message (a forged status was not kept).</summary>
    private static async Task AssertNothingRetainedAsync(TlsBroker broker, string identity, string topic)
    {
        using var client = await broker.ConnectAsync(identity);
        var seen = Collect(client);
        await Subscribe(client, topic);
        await Task.Delay(300);
        Assert.Empty(seen);
    }

    private static async Task Until(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting for {what}");
            await Task.Delay(50);
        }
    }
}
