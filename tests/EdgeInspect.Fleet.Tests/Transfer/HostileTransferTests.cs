using System.Text.Json.Nodes;
using EdgeInspect.Fleet.Packages;
using EdgeInspect.Fleet.Protocol.Packages;
using EdgeInspect.Fleet.Protocol.Signing;
using EdgeInspect.Fleet.Protocol.Transfer;
using EdgeInspect.TestSupport;
using MQTTnet;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Transfer;

/// <summary>
/// The package path against a hostile sender on a real Mosquitto: each refusal names its reason, nothing lands outside
/// the spool, and afterwards the device's command side still answers <c>status</c> within 5 s.
/// </summary>
public sealed class HostileTransferTests(Xunit.Abstractions.ITestOutputHelper output)
{
    public static TheoryData<string> HostileCases => [.. HostileArchives.Cases];

    [MosquittoTheory]
    [MemberData(nameof(HostileCases))]
    public async Task PushAsync_HostileTar_RefusedNothingOutsideSpoolStatusAnswers(string kind)
    {
        await using var rig = await TransferRig.StartAsync();
        var outside = Path.Combine(Path.GetTempPath(), "edgeinspect-escape-" + Guid.NewGuid().ToString("N"));
        var archive = Path.Combine(rig.Tmp.Path, kind + ".tar");
        HostileArchives.Write(kind, archive, outside);
        var before = rig.FilesOutsideSpool();

        var reply = await rig.PushAsync(archive, "hostile");

        output.WriteLine($"{kind}: {reply.Error}: {reply.Reason}");
        Assert.False(reply.Ok);
        Assert.Contains(reply.Error, new[] { "unsafe-path", "archive-invalid", "oversize" });
        Assert.Contains("package archive:", reply.Reason);
        Assert.Equal(before, rig.FilesOutsideSpool());
        Assert.False(Path.Exists(outside));
        Assert.False(File.Exists(Path.Combine(rig.Data, "x")));
        Assert.False(Directory.Exists(Path.Combine(rig.Data, "models", ".staging")));
        Assert.Null(rig.State.CandidateSlot);
        await rig.AssertStatusWithin5sAsync();
    }

    [MosquittoFact]
    [Trait(TestCategories.Name, TestCategories.Slow)]
    public async Task PushAsync_HundredThousandEmptyEntries_RefusedNothingOutsideSpoolStatusAnswers()
    {
        await using var rig = await TransferRig.StartAsync();
        var archive = Path.Combine(rig.Tmp.Path, "many.tar");
        HostileArchives.WriteManyEmpty(archive, 100_000);
        var before = rig.FilesOutsideSpool();

        var reply = await rig.PushAsync(archive, "many");

        output.WriteLine($"{new FileInfo(archive).Length} bytes: {reply.Error}: {reply.Reason}");
        Assert.Equal("archive-invalid", reply.Error);
        Assert.Contains("more than 1024 entries", reply.Reason);
        Assert.Equal(before, rig.FilesOutsideSpool());
        Assert.False(Directory.Exists(Path.Combine(rig.Data, "models", ".staging")));
        await rig.AssertStatusWithin5sAsync();
    }

    [MosquittoFact]
    public async Task Offer_SecondConcurrentTransfer_RefusedAsTransferBusy()
    {
        await using var rig = await TransferRig.StartAsync();
        var a = rig.Archive("a", 1, 40_000);
        var b = rig.Archive("b", 2, 40_000);
        using var first = new PackageSender("first", a, 8192);
        using var second = new PackageSender("second", b, 8192);
        var accepted = await rig.OfferAsync(first.SignedOffer(rig.PackageKey, "device:" + TransferRig.Device, DateTimeOffset.UtcNow));
        await rig.ChunkAsync(first.ReadChunk(0));

        var refused = await rig.OfferAsync(second.SignedOffer(rig.PackageKey, "device:" + TransferRig.Device, DateTimeOffset.UtcNow));

        Assert.True(accepted.Ok, accepted.Reason);
        Assert.Equal("transfer-busy", refused.Error);
        Assert.Contains("first", refused.Reason);
        await rig.AssertStatusWithin5sAsync();
    }

    [MosquittoFact]
    public async Task Offer_UnsignedOrHashMismatch_RefusedBeforeAnyChunkIsStored()
    {
        await using var rig = await TransferRig.StartAsync();
        var archive = rig.Archive("v1", 1, 20_000);
        using var sender = new PackageSender("p1", archive, 8192);
        var signed = sender.SignedOffer(rig.PackageKey, "device:" + TransferRig.Device, DateTimeOffset.UtcNow);

        var unsigned = await rig.OfferAsync(sender.Offer);
        var otherHash = await rig.OfferAsync(signed with { Sha256 = new string('b', 64) });
        for (var i = 0; i < sender.Offer.ChunkCount; i++) await rig.ChunkAsync(sender.ReadChunk(i));
        await rig.AssertStatusWithin5sAsync();

        Assert.Equal("unsigned", unsigned.Error);
        Assert.Equal("statement-mismatch", otherHash.Error);
        Assert.Contains("SHA-256", otherHash.Reason);
        Assert.Empty(Directory.EnumerateFileSystemEntries(rig.SpoolFolder));
        Assert.Equal(sender.Offer.ChunkCount, rig.Receiver.RejectedChunks);
    }

    [MosquittoFact]
    public async Task PushAsync_ManifestDisagreesWithStatement_RefusedAsStatementMismatch()
    {
        await using var rig = await TransferRig.StartAsync();
        var archive = rig.Archive("v3", 3, 20_000);
        using var sender = new PackageSender("p3", archive, 8192);
        // Signed over the archive's true hash, but vouching for version 8: the manifest inside says 3.
        var lying = sender.Offer with
        {
            Statement = PackageStatement.For(sender.Offer, "test-defects", 8, "device:" + TransferRig.Device, DateTimeOffset.UtcNow).Sign(rig.PackageKey),
        };
        Assert.True((await rig.OfferAsync(lying)).Ok);
        for (var i = 0; i < sender.Offer.ChunkCount; i++) await rig.ChunkAsync(sender.ReadChunk(i));

        var end = await rig.Cloud.RequestAsync($"{TransferRig.Prefix}/{TransferRig.Device}/model/end", """{"packageId":"p3"}"""u8.ToArray(), TransferRig.Wait, default);

        Assert.Equal("statement-mismatch", end.Error);
        Assert.Contains("version 3", end.Reason);
        Assert.Null(rig.State.CandidateSlot);
        Assert.Empty(Directory.EnumerateFileSystemEntries(rig.SpoolFolder));
    }

    [MosquittoFact]
    public async Task PushAsync_DowngradeWithRollbackFlag_RefusedAndFloorSurvivesRestart()
    {
        await using var rig = await TransferRig.StartAsync();
        await rig.ActivateAsync(rig.Archive("v4", 4), "v4");
        var v1 = rig.Archive("v1", 1);

        var refused = await rig.PushAsync(v1, "v1", rollback: true);
        await rig.RestartDeviceAsync();
        var afterRestart = await rig.PushAsync(v1, "v1", rollback: true);

        Assert.Equal("lower-version", refused.Error);
        Assert.Equal("lower-version", afterRestart.Error);
        Assert.Contains("below the floor 4", afterRestart.Reason);
        Assert.Null(rig.State.CandidateSlot);
        Assert.Empty(Directory.EnumerateFileSystemEntries(rig.SpoolFolder));
        await rig.AssertStatusWithin5sAsync();
    }

    [MosquittoFact]
    public async Task PermitRollback_SignedByOverrideKey_DowngradeInstalledAndAudited()
    {
        await using var rig = await TransferRig.StartAsync();
        await rig.ActivateAsync(rig.Archive("v4", 4), "v4");
        var args = new JsonObject { ["model"] = "test-defects", ["version"] = 2, ["reason"] = "v4 misses scratches on line A" };

        var byOperator = await rig.SendAsync("permit-rollback", args, rig.Ops.Operator);
        var permit = await rig.SendAsync("permit-rollback", (JsonObject)args.DeepClone(), rig.Ops.Override);
        var installed = await rig.PushAsync(rig.Archive("v2", 2), "v2");

        Assert.Equal("forbidden", byOperator.Error);
        Assert.True(permit.Ok, $"{permit.Error}: {permit.Reason}");
        Assert.Equal(4, permit.Result!["floor"]!.GetValue<long>());
        Assert.True(installed.Ok, $"{installed.Error}: {installed.Reason}");
        Assert.Equal(2, rig.Installer.VersionIn(rig.State.CandidateSlot));
        var audit = rig.Store.AuditEvents().Single(e => e.Kind == "rollback-permitted");
        Assert.Equal("key:" + TestOperators.KeyId(rig.Ops.Override) + " (overrider)", audit.Actor);
        Assert.Equal("test-defects v2", audit.To);
        Assert.StartsWith("v4 misses scratches on line A", audit.Reason);
    }

    [MosquittoFact]
    public async Task RevokeKey_PackageAndOperatorKeys_RefusedAsRevokedAlsoAfterRestart()
    {
        await using var rig = await TransferRig.StartAsync();
        var archive = rig.Archive("v1", 1);

        var revokePackageKey = await rig.SendAsync("revoke-key", new JsonObject { ["keyId"] = PackageKeys.KeyId(rig.PackageKey), ["reason"] = "build server compromised" }, rig.Ops.Override);
        var revokeOperator = await rig.SendAsync("revoke-key", new JsonObject { ["keyId"] = TestOperators.KeyId(rig.Ops.Operator), ["reason"] = "laptop stolen" }, rig.Ops.Override);
        var push = await rig.PushAsync(archive, "v1");
        var command = await rig.SendAsync("status", null, rig.Ops.Operator);
        await rig.RestartDeviceAsync();
        var pushAfterRestart = await rig.PushAsync(archive, "v1");
        var commandAfterRestart = await rig.SendAsync("status", null, rig.Ops.Operator);

        Assert.True(revokePackageKey.Ok, revokePackageKey.Reason);
        Assert.True(revokeOperator.Ok, revokeOperator.Reason);
        Assert.Equal(("revoked-key", "revoked-key"), (push.Error, command.Error));
        Assert.Equal(("revoked-key", "revoked-key"), (pushAfterRestart.Error, commandAfterRestart.Error));
        Assert.Equal(2, rig.Store.AuditEvents().Count(e => e.Kind == "key-revoked"));
        await rig.AssertStatusWithin5sAsync();
    }

    [MosquittoFact]
    public async Task RevokedKeysInConfig_PackageAndOperatorKeys_RefusedAsRevoked()
    {
        await using var rig = await TransferRig.StartAsync();
        rig.RevokedInConfig.AddRange([PackageKeys.KeyId(rig.PackageKey), TestOperators.KeyId(rig.Ops.Operator)]);
        await rig.RestartDeviceAsync();

        var push = await rig.PushAsync(rig.Archive("v1", 1), "v1");
        var command = await rig.SendAsync("status", null, rig.Ops.Operator);

        Assert.Equal("revoked-key", push.Error);
        Assert.Equal("revoked-key", command.Error);
        Assert.Contains("revoked", push.Reason);
        await rig.AssertStatusWithin5sAsync();
    }

    [MosquittoFact]
    public async Task Offer_ReplyTopicOfAnotherDevice_NothingPublishedThereAndCounted()
    {
        await using var rig = await TransferRig.StartAsync();
        using var sender = new PackageSender("p1", rig.Archive("v1", 1), 8192);
        using var spy = await CommandRig.ConnectAsync(rig.Broker, "spy-");
        var seen = 0;
        spy.ApplicationMessageReceivedAsync += _ => { Interlocked.Increment(ref seen); return Task.CompletedTask; };
        await spy.SubscribeAsync($"{TransferRig.Prefix}/dev-02/#");

        await rig.CloudMqtt.PublishAsync(new MqttApplicationMessageBuilder().WithTopic($"{TransferRig.Prefix}/{TransferRig.Device}/model/offer")
            .WithPayload(sender.SignedOffer(rig.PackageKey, "device:" + TransferRig.Device, DateTimeOffset.UtcNow).ToBytes())
            .WithResponseTopic($"{TransferRig.Prefix}/dev-02/cmd/set-mode").WithCorrelationData([1])
            .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await rig.AssertStatusWithin5sAsync();

        Assert.Equal(1, rig.Receiver.ForeignReplyTopics);
        Assert.Equal(0, seen);
        Assert.Empty(Directory.EnumerateFileSystemEntries(rig.SpoolFolder));
    }

    [MosquittoFact]
    public async Task End_InstallThrowsUnexpectedly_AnsweredInternalAndPathKeepsWorking()
    {
        await using var rig = await TransferRig.StartAsync();
        var archive = rig.Archive("v1", 1);
        rig.BeforeInstall = () => throw new IOException("disk went away");

        var failed = await rig.PushAsync(archive, "v1");
        rig.BeforeInstall = null;
        await rig.AssertStatusWithin5sAsync();
        var again = await rig.PushAsync(archive, "v1");

        Assert.Equal("internal", failed.Error);
        Assert.Contains("disk went away", failed.Reason);
        Assert.Equal(1, rig.Receiver.Errors);
        Assert.Contains(rig.Store.AuditEvents(), e => e.Kind == "package-refused" && e.Reason!.StartsWith("internal: IOException", StringComparison.Ordinal));
        Assert.True(again.Ok, $"{again.Error}: {again.Reason}");
    }
}
