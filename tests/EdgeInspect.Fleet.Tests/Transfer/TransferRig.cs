using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using EdgeInspect.Core.Storage;
using EdgeInspect.Fleet.Commands;
using EdgeInspect.Fleet.Packages;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Fleet.Protocol.Packages;
using EdgeInspect.Fleet.Protocol.Signing;
using EdgeInspect.Fleet.Protocol.Transfer;
using EdgeInspect.Station.Fleet.Commands;
using EdgeInspect.Station.Fleet.Mqtt;
using EdgeInspect.Station.Fleet.Slots;
using EdgeInspect.Station.Fleet.Transfer;
using EdgeInspect.Sync.Mqtt;
using EdgeInspect.TestSupport;
using MQTTnet;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Transfer;

/// <summary>Skips ONNX: these tests are about the package path, not about what the model does.</summary>
internal sealed class HashOnlyValidator : IPackageValidator
{
    public void Validate(VerifiedPackage package, CancellationToken cancellationToken)
    {
    }
}

/// <summary>
/// A device's package path and command side on one connection to a real Mosquitto, as the bridge wires them: the
/// spool (<see cref="PackageReceiver"/>) checking offers with the installer, <see cref="MqttPackageReceiver"/> installing
/// into the slots (ONNX validation left out), the command processor with <c>status</c>, <c>revoke-key</c> and
/// <c>permit-rollback</c> behind <see cref="MqttCommandResponder"/>; the cloud side's pusher and signed command client.
/// A restart keeps the data folder (slots, floor, revocations, spool).
/// </summary>
internal sealed class TransferRig : IAsyncDisposable
{
    public const string Prefix = "ei-test";
    public const string Device = "dev-01";
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    private readonly Action<TransferOptions>? _configure;

    private TransferRig(MosquittoBroker broker, Action<TransferOptions>? configure)
    {
        Broker = broker;
        _configure = configure;
    }

    public TempDir Tmp { get; } = new();
    public MosquittoBroker Broker { get; }
    public ECDsa PackageKey { get; } = PackageKeys.Create();
    public TestOperators Ops { get; } = new();
    public InMemoryInspectionStore Store { get; } = new();
    public DeviceState State { get; } = new();
    public TrustedKeys Keys { get; private set; } = null!;
    public PackageInstaller Installer { get; private set; } = null!;
    public PackageReceiver Spool { get; private set; } = null!;
    public MqttPackageReceiver Receiver { get; private set; } = null!;
    public CommandProcessor Processor { get; private set; } = null!;
    public MqttCommandResponder Responder { get; private set; } = null!;
    public DeviceMqttConnection DeviceClient { get; private set; } = null!;
    public IMqttClient CloudMqtt { get; private set; } = null!;
    public FleetCommandClient Cloud { get; private set; } = null!;
    public FleetPackagePusher Pusher { get; private set; } = null!;
    public List<string> RevokedInConfig { get; } = [];

    /// <summary>Optional: runs before each install (a test makes it throw to see the path survive).</summary>
    public Action? BeforeInstall { get; set; }

    public string Data => Path.Combine(Tmp.Path, "data");
    public string SpoolFolder => Path.Combine(Tmp.Path, "spool");

    public static async Task<TransferRig> StartAsync(Action<TransferOptions>? configure = null)
    {
        var rig = new TransferRig(await MosquittoBroker.LaunchAsync(), configure);
        rig.Keys = TestPackages.Trust(rig.PackageKey);
        await rig.StartDeviceAsync();
        rig.CloudMqtt = await CommandRig.ConnectAsync(rig.Broker, "cloud-");
        rig.Cloud = new FleetCommandClient(rig.CloudMqtt, Prefix, "tool", TimeProvider.System);
        await rig.Cloud.SubscribeAsync(default);
        rig.Pusher = new FleetPackagePusher(rig.CloudMqtt, rig.Cloud, Prefix, rig.PackageKey);
        return rig;
    }

    private async Task StartDeviceAsync()
    {
        var options = new TransferOptions { MinChunkBytes = 4096, ReserveBytes = 0, QueueCapacity = 64 };
        _configure?.Invoke(options);
        var limits = new TransferLimits { MaxPackageBytes = 256L * 1024 * 1024, MaxChunkBytes = 64 * 1024, MinChunkBytes = options.MinChunkBytes, MaxChunkCount = options.MaxChunkCount };
        Installer = new PackageInstaller(Data, Keys, new DeviceIdentity(Device, "line-a"), new HashOnlyValidator(), 512L * 1024 * 1024, RevokedInConfig,
            maxArchiveEntries: options.MaxArchiveEntries);
        Spool = new PackageReceiver(SpoolFolder, limits, options, verify: o => Installer.CheckOffer(o));
        DeviceClient = await TestPackages.DeviceConnection(Broker, Prefix, Device);
        Receiver = new MqttPackageReceiver(DeviceClient, Spool, (archive, offer, ct) =>
        {
            BeforeInstall?.Invoke();
            var v = Installer.Install(archive, State, offer, ct);
            return Task.FromResult<JsonNode?>(new JsonObject { ["candidate"] = State.CandidateSlot, ["version"] = v.Manifest.Version });
        }, (id, code, reason) => Store.AppendAudit(new AuditEvent(DateTimeOffset.UtcNow, "package-refused", "fleet", "mqtt", id, null, $"{code}: {reason}")),
            queueCapacity: options.QueueCapacity);
        var security = new CommandSecurity(Device, Ops.Keys(), AllowRemoteOverride: true, Revoked: Installer.RevokedKeys.Revocations);
        Processor = new CommandProcessor(new CommandOptions(), security, TimeProvider.System, Store);
        Processor.Register("status", OperatorRole.Observe, (_, _) => ValueTask.FromResult<JsonNode?>(new JsonObject
        {
            ["transfers"] = new JsonArray([.. Spool.PendingPackageIds().Select(id => (JsonNode)id)]),
            ["candidate"] = State.CandidateSlot,
        }));
        PackageTrustCommands.Register(Processor, Installer, (kind, actor, from, to, reason) =>
            Store.AppendAudit(new AuditEvent(DateTimeOffset.UtcNow, kind, actor, "mqtt", from, to, reason)));
        Responder = new MqttCommandResponder(DeviceClient, Processor);
        // Subscriptions are applied in the background once connected; give the SUBACKs a moment.
        await Task.Delay(300);
    }

    /// <summary>A device restart over the same data folder and spool.</summary>
    public async Task RestartDeviceAsync()
    {
        await StopDeviceAsync();
        await StartDeviceAsync();
    }

    private async Task StopDeviceAsync()
    {
        await Responder.DisposeAsync();
        await Receiver.DisposeAsync();
        await DeviceClient.DisposeAsync();
    }

    /// <summary>A signed package folder of <paramref name="version"/>, archived.</summary>
    public string Archive(string name, long version, int classifierBytes = 3000)
    {
        var folder = TestPackages.Build(Tmp.Sub("pkg-" + name), PackageKey, TestPackages.Manifest(version), RandomNumberGenerator.GetBytes(classifierBytes));
        var archive = Path.Combine(Tmp.Path, name + ".tar");
        PackageArchive.Create(folder, archive);
        return archive;
    }

    /// <summary>Pushes with the fleet tool's pusher (statement signed by the rig's package key for this device).</summary>
    public async Task<CommandReply> PushAsync(string archive, string packageId, int chunkSize = 64 * 1024, bool rollback = false)
    {
        using var sender = new PackageSender(packageId, archive, chunkSize, rollback);
        return await Pusher.PushAsync(Device, sender, Wait, null, default);
    }

    /// <summary>Installs and activates a package, as a promotion does (the floor rises to it).</summary>
    public async Task ActivateAsync(string archive, string packageId)
    {
        var reply = await PushAsync(archive, packageId);
        Assert.True(reply.Ok, $"{reply.Error}: {reply.Reason}");
        State.PreviousSlot = State.ActiveSlot;
        State.ActiveSlot = State.CandidateSlot;
        State.CandidateSlot = null;
        Installer.Activated(State.ActiveSlot);
    }

    /// <summary>Publishes an offer as given (signed or not) with the cloud's reply topic and awaits the answer.</summary>
    public Task<CommandReply> OfferAsync(TransferOffer offer) =>
        Cloud.RequestAsync($"{Prefix}/{Device}/model/offer", offer.ToBytes(), Wait, default);

    /// <summary>Publishes one chunk (QoS 1), no answer expected.</summary>
    public Task ChunkAsync(TransferChunk chunk) =>
        CloudMqtt.PublishAsync(new MqttApplicationMessageBuilder().WithTopic($"{Prefix}/{Device}/model/chunk").WithPayload(chunk.Encode())
            .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build());

    public Task<CommandReply> SendAsync(string command, JsonObject? args, ECDsa key) => Cloud.SendAsync(Device, command, args, Wait, key, default);

    /// <summary>The device still serves: a signed status from the observe key is answered within 5 s.</summary>
    public async Task AssertStatusWithin5sAsync()
    {
        var sw = Stopwatch.StartNew();
        var reply = await Cloud.SendAsync(Device, "status", null, TimeSpan.FromSeconds(5), Ops.Observer, default);
        Assert.True(reply.Ok, $"status: {reply.Error} {reply.Reason}");
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"status took {sw.Elapsed}");
    }

    /// <summary>Every file under the rig's temp folder, outside the spool (what a hostile archive must not add to).</summary>
    public SortedSet<string> FilesOutsideSpool() =>
        new(Directory.EnumerateFiles(Tmp.Path, "*", SearchOption.AllDirectories)
            .Where(f => !f.StartsWith(SpoolFolder + Path.DirectorySeparatorChar, StringComparison.Ordinal)), StringComparer.Ordinal);

    public async ValueTask DisposeAsync()
    {
        await StopDeviceAsync();
        await Cloud.DisposeAsync();
        CloudMqtt.Dispose();
        await Broker.DisposeAsync();
        Keys.Dispose();
        PackageKey.Dispose();
        Ops.Dispose();
        Tmp.Dispose();
    }
}
