using System.Text.Json.Nodes;
using EdgeInspect.Core.Storage;
using EdgeInspect.Fleet;
using EdgeInspect.Fleet.Commands;
using EdgeInspect.Fleet.Packages;
using EdgeInspect.Fleet.Protocol.Packages;
using EdgeInspect.Fleet.Protocol.Signing;
using EdgeInspect.Fleet.Protocol.Transfer;
using EdgeInspect.Station.Fleet.Mqtt;
using EdgeInspect.Station.Fleet.Slots;
using EdgeInspect.Station.Fleet.Transfer;
using EdgeInspect.Sync.Mqtt;
using EdgeInspect.TestSupport;
using MQTTnet;
using MQTTnet.Formatter;
using Xunit;

namespace EdgeInspect.Fleet.Tests.Transfer;

/// <summary>Package delivery over a real Mosquitto: push, install into the spare slot, resume, refusals.</summary>
public sealed class MqttPackageTests
{
    private const string Prefix = "ei-test";
    private const string DeviceId = "dev-01";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    private sealed class NoOnnxValidator : IPackageValidator
    {
        public int Calls { get; private set; }

        public void Validate(VerifiedPackage package, CancellationToken cancellationToken) => Calls++;
    }

    private static async Task<IMqttClient> Connect(MosquittoBroker broker, string id)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        await client.ConnectAsync(new MqttClientOptionsBuilder().WithTcpServer(broker.Host, broker.Port)
            .WithProtocolVersion(MqttProtocolVersion.V500).WithClientId(id).Build());
        return client;
    }

    private static async Task<(DeviceMqttConnection Client, MqttPackageReceiver Receiver)> StartDevice(MosquittoBroker broker, string spool, PackageInstaller installer, DeviceState state)
    {
        var client = await TestPackages.DeviceConnection(broker, Prefix, DeviceId);
        var limits = new TransferLimits { MaxPackageBytes = 200_000, MaxChunkBytes = 8192, MinChunkBytes = 1024 };
        var receiver = new MqttPackageReceiver(client, new PackageReceiver(spool, limits, verify: o => installer.CheckOffer(o)),
            (archive, offer, ct) =>
            {
                var v = installer.Install(archive, state, offer, ct);
                return Task.FromResult<JsonNode?>(new JsonObject { ["candidate"] = state.CandidateSlot, ["version"] = v.Manifest.Version });
            });
        return (client, receiver);
    }

    [MosquittoFact]
    public async Task PushAsync_SignedPackage_InstalledAsCandidateInSpareSlot()
    {
        using var tmp = new TempDir();
        await using var broker = await MosquittoBroker.LaunchAsync();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var validator = new NoOnnxValidator();
        var state = new DeviceState { ActiveSlot = "a" };
        var installer = new PackageInstaller(tmp.Sub("data"), keys, new DeviceIdentity(DeviceId, null), validator, 1 << 20);
        var (deviceClient, receiver) = await StartDevice(broker, tmp.Sub("spool"), installer, state);
        using var fleetClient = await Connect(broker, "fleet-1");
        var requests = new FleetCommandClient(fleetClient, Prefix, "tool", TimeProvider.System);
        await requests.SubscribeAsync(default);
        var folder = TestPackages.Build(tmp.Sub("pkg"), key, TestPackages.Manifest(3), new byte[40_000]);
        var archive = Path.Combine(tmp.Path, "p.tar");
        PackageArchive.Create(folder, archive);
        using var sender = new PackageSender("defects-v3", archive, 4096);
        var progress = new List<PushProgress>();

        var reply = await new FleetPackagePusher(fleetClient, requests, Prefix, key).PushAsync(DeviceId, sender, Wait, new SyncProgress(progress), default);

        Assert.True(reply.Ok, $"{reply.Error}: {reply.Reason}");
        Assert.Equal("b", state.CandidateSlot);
        Assert.Equal(3, installer.VersionIn("b"));
        Assert.Equal(1, validator.Calls);
        Assert.Equal(sender.Offer.ChunkCount, progress[^1].Sent);
        await receiver.DisposeAsync();
        await deviceClient.DisposeAsync();
    }

    [MosquittoFact]
    public async Task PushAsync_AfterDeviceRestartMidTransfer_SendsOnlyMissingChunks()
    {
        using var tmp = new TempDir();
        await using var broker = await MosquittoBroker.LaunchAsync();
        using var key = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var state = new DeviceState { ActiveSlot = "a" };
        var installer = new PackageInstaller(tmp.Sub("data"), keys, new DeviceIdentity(DeviceId, null), new NoOnnxValidator(), 1 << 20);
        var spool = tmp.Sub("spool");
        var folder = TestPackages.Build(tmp.Sub("pkg"), key, TestPackages.Manifest(3), new byte[40_000]);
        var archive = Path.Combine(tmp.Path, "p.tar");
        PackageArchive.Create(folder, archive);
        using var sender = new PackageSender("defects-v3", archive, 4096);
        // The first device process received half the chunks, then died (the spool is all that survives).
        var first = new PackageReceiver(spool, new TransferLimits { MaxPackageBytes = 200_000, MaxChunkBytes = 8192, MinChunkBytes = 1024 });
        first.Offer(sender.SignedOffer(key, "device:" + DeviceId, DateTimeOffset.UtcNow));
        for (var i = 0; i < sender.Offer.ChunkCount / 2; i++) first.Accept(sender.ReadChunk(i));

        var (deviceClient, receiver) = await StartDevice(broker, spool, installer, state);
        using var fleetClient = await Connect(broker, "fleet-2");
        var requests = new FleetCommandClient(fleetClient, Prefix, "tool", TimeProvider.System);
        await requests.SubscribeAsync(default);
        var progress = new List<PushProgress>();
        var reply = await new FleetPackagePusher(fleetClient, requests, Prefix, key).PushAsync(DeviceId, sender, Wait, new SyncProgress(progress), default);

        Assert.True(reply.Ok, $"{reply.Error}: {reply.Reason}");
        Assert.Equal(sender.Offer.ChunkCount - (sender.Offer.ChunkCount / 2), progress[^1].ToSend);
        Assert.Equal("b", state.CandidateSlot);
        await receiver.DisposeAsync();
        await deviceClient.DisposeAsync();
    }

    [MosquittoFact]
    public async Task PushAsync_BadPackages_RefusedWithCodeAndNoCandidate()
    {
        using var tmp = new TempDir();
        await using var broker = await MosquittoBroker.LaunchAsync();
        using var key = PackageKeys.Create();
        using var stranger = PackageKeys.Create();
        using var keys = TestPackages.Trust(key);
        var state = new DeviceState { ActiveSlot = "a" };
        var installer = new PackageInstaller(tmp.Sub("data"), keys, new DeviceIdentity(DeviceId, null), new NoOnnxValidator(), 1 << 20);
        var (deviceClient, receiver) = await StartDevice(broker, tmp.Sub("spool"), installer, state);
        using var fleetClient = await Connect(broker, "fleet-3");
        var requests = new FleetCommandClient(fleetClient, Prefix, "tool", TimeProvider.System);
        await requests.SubscribeAsync(default);
        var pusher = new FleetPackagePusher(fleetClient, requests, Prefix, key);

        async Task<string?> Push(string name, Action<string> spoil, int size = 3000)
        {
            var folder = TestPackages.Build(tmp.Sub(name), key, TestPackages.Manifest(3), new byte[size]);
            spoil(folder);
            var archive = Path.Combine(tmp.Path, name + ".tar");
            PackageArchive.Create(folder, archive);
            using var sender = new PackageSender(name, archive, 4096);
            return (await pusher.PushAsync(DeviceId, sender, Wait, null, default)).Error;
        }

        Assert.Equal("unknown-key", await Push("unknown", f => File.WriteAllBytes(Path.Combine(f, "manifest.sig"),
            PackageSignature.Sign(File.ReadAllBytes(Path.Combine(f, "manifest.json")), stranger).ToBytes())));
        Assert.Equal("hash-mismatch", await Push("tampered", f => File.AppendAllText(Path.Combine(f, "classifier.onnx"), "!")));
        Assert.Equal("missing-file", await Push("missing", f => File.Delete(Path.Combine(f, "classifier.onnx"))));
        Assert.Equal("oversize", await Push("huge", _ => { }, size: 300_000));
        Assert.Null(state.CandidateSlot);
        await receiver.DisposeAsync();
        await deviceClient.DisposeAsync();
    }

    [MosquittoFact]
    public async Task FleetCliPush_PackedArchive_InstalledOnDevice()
    {
        using var tmp = new TempDir();
        await using var broker = await MosquittoBroker.LaunchAsync();
        var keysDir = tmp.Sub("keys");
        Assert.Equal(0, await FleetCli.Build(TextWriter.Null, TextWriter.Null).Parse(["keygen", "--out", keysDir]).InvokeAsync());
        using var keys = TrustedKeys.FromFiles([Path.Combine(keysDir, "fleet.pub")]);
        var state = new DeviceState { ActiveSlot = "a" };
        var installer = new PackageInstaller(tmp.Sub("data"), keys, new DeviceIdentity(DeviceId, null), new NoOnnxValidator(), 1 << 20);
        var (deviceClient, receiver) = await StartDevice(broker, tmp.Sub("spool"), installer, state);
        using var throwaway = PackageKeys.Create();
        var folder = TestPackages.Build(tmp.Sub("pkg"), throwaway, TestPackages.Manifest(1), new byte[20_000]);
        var archive = Path.Combine(tmp.Path, "defects-v4.tar");
        Assert.Equal(0, await FleetCli.Build(TextWriter.Null, TextWriter.Null)
            .Parse(["pack", folder, "--key", Path.Combine(keysDir, "fleet.key"), "--out", archive, "--version", "4"]).InvokeAsync());
        var o = new StringWriter();
        var e = new StringWriter();

        var rc = await FleetCli.Build(o, e).Parse(["push", archive, "--broker", $"{broker.Host}:{broker.Port}", "--prefix", Prefix,
            "--device", DeviceId, "--chunk-size", "4096", "--timeout", "10", "--key", Path.Combine(keysDir, "fleet.key")]).InvokeAsync();

        Assert.Equal(0, rc);
        Assert.Contains($"{DeviceId,-16} installed", o.ToString());
        Assert.Contains("\"version\":4", o.ToString());
        Assert.Equal(4, installer.VersionIn("b"));
        await receiver.DisposeAsync();
        await deviceClient.DisposeAsync();
    }

    /// <summary>Progress that records synchronously (Progress&lt;T&gt; posts to the thread pool, racing the asserts).</summary>
    private sealed class SyncProgress(List<PushProgress> list) : IProgress<PushProgress>
    {
        public void Report(PushProgress value) => list.Add(value);
    }
}
