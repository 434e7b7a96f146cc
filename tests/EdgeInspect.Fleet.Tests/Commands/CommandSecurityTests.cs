using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using EdgeInspect.Core.Domain;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Fleet.Protocol.Signing;
using EdgeInspect.Station.Fleet.Commands;
using EdgeInspect.TestSupport;
using MQTTnet;
using MQTTnet.Protocol;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Commands;

/// <summary>
/// The command plane under attack, over a real Mosquitto: the attacker is a plain MQTTnet client with no operator key.
/// Each refusal is answered with its code and audited with the key id (or "anonymous"), never the sender's text; after
/// each, a signed status from the observe key is still answered within 5 s.
/// </summary>
public sealed class CommandSecurityTests
{
    private const string Device = CommandRig.Device;

    private static JsonObject FullForced => new() { ["mode"] = "full", ["reason"] = "because", ["force"] = true };

    [MosquittoFact]
    public async Task Unsigned_ForcedFullFromAttacker_RefusedUnsignedAuditedAnonymous()
    {
        await using var rig = await CommandRig.StartAsync();
        var payload = Encoding.UTF8.GetBytes(
            $"{{\"id\":\"a1\",\"expiresAt\":\"{DateTimeOffset.UtcNow.AddMinutes(1):O}\",\"actor\":\"plant-manager\",\"args\":{{\"mode\":\"full\",\"reason\":\"x\",\"force\":true}}}}");

        var reply = await rig.AttackAsync("set-mode", payload);

        Assert.Equal(CommandErrors.Unsigned, reply.Error);
        Assert.Equal(AutomationMode.Shadow, rig.Modes.Current);
        var audit = Assert.Single(rig.Refusals());
        Assert.Equal("anonymous", audit.Actor);
        Assert.StartsWith("unsigned:", audit.Reason);
        Assert.DoesNotContain(rig.Store.AuditEvents(), e => e.Actor.Contains("plant-manager", StringComparison.Ordinal));
        await rig.AssertStillServesAsync();
    }

    [MosquittoFact]
    public async Task WronglySigned_AttackerKeyUnderOperatorKeyId_RefusedBadSignatureAuditedWithKeyId()
    {
        await using var rig = await CommandRig.StartAsync();
        using var attacker = PackageKeys.Create();
        var statement = CommandEnvelope.Statement(Device, "set-mode", "a2", DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddMinutes(1), FullForced);
        var forged = JsonNode.Parse(CommandEnvelope.Wrap(statement, attacker))!.AsObject();
        var operatorId = TestOperators.KeyId(rig.Ops.Override);
        forged[CommandEnvelope.KeyId] = operatorId;

        var reply = await rig.AttackAsync("set-mode", Encoding.UTF8.GetBytes(forged.ToJsonString()));

        Assert.Equal(CommandErrors.BadSignature, reply.Error);
        Assert.Equal(AutomationMode.Shadow, rig.Modes.Current);
        Assert.Equal($"unverified:key:{operatorId}", Assert.Single(rig.Refusals()).Actor);
        await rig.AssertStillServesAsync();
    }

    [MosquittoFact]
    public async Task UnknownKey_AttackerSignsWithOwnKey_RefusedUnknownKeyAuditedWithKeyId()
    {
        await using var rig = await CommandRig.StartAsync();
        using var attacker = PackageKeys.Create();

        var reply = await rig.AttackAsync("set-mode", TestOperators.Sign(attacker, Device, "set-mode", "a3", DateTimeOffset.UtcNow.AddMinutes(1), FullForced));

        Assert.Equal(CommandErrors.UnknownKey, reply.Error);
        Assert.Equal($"unverified:key:{TestOperators.KeyId(attacker)}", Assert.Single(rig.Refusals()).Actor);
        await rig.AssertStillServesAsync();
    }

    [MosquittoFact]
    public async Task Replayed_CapturedCommandResent_RefusedAlsoAfterDeviceRestart()
    {
        await using var rig = await CommandRig.StartAsync();
        var captured = TestOperators.Sign(rig.Ops.Operator, Device, "set-mode", "op-7", DateTimeOffset.UtcNow.AddMinutes(2),
            new JsonObject { ["mode"] = "human", ["reason"] = "changeover" });
        Assert.True((await rig.SendRawViaFleet("set-mode", captured)).Ok);
        Assert.True((await rig.SendAsync("set-mode", new JsonObject { ["mode"] = "shadow", ["reason"] = "back" })).Ok);

        var replay = await rig.AttackAsync("set-mode", captured);
        await rig.RestartDeviceAsync();
        var afterRestart = await rig.AttackAsync("set-mode", captured);

        Assert.Equal(CommandErrors.Replayed, replay.Error);
        Assert.Equal(CommandErrors.Replayed, afterRestart.Error);
        Assert.Equal(AutomationMode.Shadow, rig.Modes.Current);
        var operatorActor = $"key:{TestOperators.KeyId(rig.Ops.Operator)} (operator)";
        Assert.Equal(2, rig.Refusals().Count(e => e.Actor == operatorActor && e.Reason!.StartsWith("replayed:", StringComparison.Ordinal)));
        await rig.AssertStillServesAsync();
    }

    [MosquittoFact]
    public async Task Expired_SignedCommandPastItsExpiry_RefusedExpiredAuditedWithKeyId()
    {
        await using var rig = await CommandRig.StartAsync();

        var reply = await rig.AttackAsync("status", TestOperators.Sign(rig.Ops.Observer, Device, "status", "old", DateTimeOffset.UtcNow.AddMinutes(-5)));

        Assert.Equal(CommandErrors.Expired, reply.Error);
        Assert.Equal($"key:{TestOperators.KeyId(rig.Ops.Observer)} (observer)", Assert.Single(rig.Refusals()).Actor);
        await rig.AssertStillServesAsync();
    }

    [MosquittoFact]
    public async Task WrongDevice_CommandSignedForAnotherDevice_RefusedWrongDevice()
    {
        await using var rig = await CommandRig.StartAsync();
        var forOther = TestOperators.Sign(rig.Ops.Operator, "dev-02", "set-mode", "w1", DateTimeOffset.UtcNow.AddMinutes(1),
            new JsonObject { ["mode"] = "human", ["reason"] = "x" });

        var reply = await rig.AttackAsync("set-mode", forOther);

        Assert.Equal(CommandErrors.WrongDevice, reply.Error);
        Assert.Equal(AutomationMode.Shadow, rig.Modes.Current);
        Assert.StartsWith("wrong-device:", Assert.Single(rig.Refusals()).Reason);
        await rig.AssertStillServesAsync();
    }

    [MosquittoFact]
    public async Task UnderPrivileged_ObserveKeySetsMode_RefusedForbiddenAuditedWithKeyId()
    {
        await using var rig = await CommandRig.StartAsync();

        var reply = await rig.SendAsync("set-mode", new JsonObject { ["mode"] = "human", ["reason"] = "x" }, rig.Ops.Observer);

        Assert.Equal(CommandErrors.Forbidden, reply.Error);
        Assert.Equal(AutomationMode.Shadow, rig.Modes.Current);
        Assert.Equal($"key:{TestOperators.KeyId(rig.Ops.Observer)} (observer)", Assert.Single(rig.Refusals()).Actor);
        await rig.AssertStillServesAsync();
    }

    [MosquittoFact]
    public async Task Force_OperateKey_RefusedForbidden()
    {
        await using var rig = await CommandRig.StartAsync(allowRemoteOverride: true);

        var reply = await rig.SendAsync("set-mode", FullForced, rig.Ops.Operator);

        Assert.Equal(CommandErrors.Forbidden, reply.Error);
        Assert.Equal(AutomationMode.Shadow, rig.Modes.Current);
        await rig.AssertStillServesAsync();
    }

    [MosquittoFact]
    public async Task Force_OverrideKeyWhereRemoteOverrideOff_RefusedOverrideDisabled()
    {
        await using var rig = await CommandRig.StartAsync(allowRemoteOverride: false);

        var reply = await rig.SendAsync("set-mode", FullForced, rig.Ops.Override);

        Assert.Equal(CommandErrors.OverrideDisabled, reply.Error);
        Assert.Equal(AutomationMode.Shadow, rig.Modes.Current);
        await rig.AssertStillServesAsync();
    }

    [MosquittoFact]
    public async Task Force_OverrideKeyWhereRemoteOverrideOn_PastTheGateAuditedWithKeyId()
    {
        await using var rig = await CommandRig.StartAsync(allowRemoteOverride: true);
        var gated = await rig.SendAsync("set-mode", new JsonObject { ["mode"] = "full", ["reason"] = "try" }, rig.Ops.Override);

        var forced = await rig.SendAsync("set-mode", FullForced, rig.Ops.Override);

        Assert.Equal(CommandErrors.Refused, gated.Error);
        Assert.True(forced.Ok, forced.Reason);
        Assert.Equal(AutomationMode.Full, rig.Modes.Current);
        Assert.Contains(rig.Store.AuditEvents(), e => e.Kind == "mode-change" && e.Actor == $"key:{TestOperators.KeyId(rig.Ops.Override)} (overrider)");
        await rig.AssertStillServesAsync();
    }

    [MosquittoFact]
    public async Task KeySwitch_AtAssistRemoteFullForced_RefusedAboveKeySwitch()
    {
        var keySwitch = new FixedKeySwitch(AutomationMode.Assist);
        await using var rig = await CommandRig.StartAsync(allowRemoteOverride: true, keySwitch: keySwitch);

        var full = await rig.SendAsync("set-mode", FullForced, rig.Ops.Override);
        var partial = await rig.SendAsync("set-mode", new JsonObject { ["mode"] = "partial", ["reason"] = "x", ["force"] = true }, rig.Ops.Override);
        var assist = await rig.SendAsync("set-mode", new JsonObject { ["mode"] = "assist", ["reason"] = "within the key" });

        Assert.Equal(CommandErrors.AboveKeySwitch, full.Error);
        Assert.Equal(CommandErrors.AboveKeySwitch, partial.Error);
        Assert.True(assist.Ok, assist.Reason);
        Assert.Equal(AutomationMode.Assist, rig.Modes.Current);
        await rig.AssertStillServesAsync();
    }

    [MosquittoFact]
    public async Task ReplyTopic_AnotherDevicesCommandTopic_RefusedNothingPublishedThere()
    {
        await using var rig = await CommandRig.StartAsync();
        var spy = await CommandRig.ConnectAsync(rig.Broker, "spy-");
        var seen = 0;
        spy.ApplicationMessageReceivedAsync += _ => { Interlocked.Increment(ref seen); return Task.CompletedTask; };
        await spy.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(f => f.WithTopic($"{CommandRig.Prefix}/dev-02/#").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)).Build());
        var signed = TestOperators.Sign(rig.Ops.Observer, Device, "status", "r1", DateTimeOffset.UtcNow.AddMinutes(1));

        await rig.PublishAsAttackerAsync($"{CommandRig.Prefix}/{Device}/cmd/status", signed, $"{CommandRig.Prefix}/dev-02/cmd/set-mode");
        await rig.PublishAsAttackerAsync($"{CommandRig.Prefix}/{Device}/cmd/status", signed, $"{CommandRig.Prefix}/dev-02/status");
        await Task.Delay(1000);

        Assert.Equal(0, Volatile.Read(ref seen));
        Assert.Equal(2, rig.Responder.ForeignReplyTopics);
        Assert.Equal(0, rig.Processor.Accepted + rig.Processor.Refused);
        spy.Dispose();
        await rig.AssertStillServesAsync();
    }
}
