using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeInspect.Cli.Fleet;
using EdgeInspect.Core.Automation;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Inference;
using EdgeInspect.Core.Storage;
using EdgeInspect.Fleet.Commands;
using EdgeInspect.Fleet.Packages;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Fleet.Protocol.Packages;
using EdgeInspect.Fleet.Protocol.Signing;
using EdgeInspect.Fleet.Protocol.Transfer;
using EdgeInspect.Imaging.OpenCv;
using EdgeInspect.Inference.Onnx;
using EdgeInspect.Station.Automation;
using EdgeInspect.Station.Fleet;
using EdgeInspect.Station.Fleet.Commands;
using EdgeInspect.Station.Fleet.Mqtt;
using EdgeInspect.Station.Fleet.Slots;
using EdgeInspect.Station.Fleet.Transfer;
using EdgeInspect.Station.Pipeline;
using EdgeInspect.Station.VirtualLine;
using EdgeInspect.Sync.Mqtt;
using EdgeInspect.TestSupport;
using MQTTnet;
using MQTTnet.Formatter;
using Xunit;

namespace EdgeInspect.Fleet.Tests;

/// <summary>
/// A fact that needs a real Mosquitto and Debian's /usr/bin/python3 with torch / onnx / cv2 (to train the smoke
/// package with tools/train/train.py --smoke, once per test run).
/// </summary>
public sealed class FleetStationFactAttribute : FactAttribute
{
    public const string Python = TrainingPython.Path;
    private static readonly Lazy<string?> Missing = new(() =>
        MosquittoBroker.IsInstalled ? TrainingPython.MissingReason : $"needs {MosquittoBroker.BinaryPath}");

    public FleetStationFactAttribute()
    {
        if (Missing.Value is { } reason) Skip = reason;
    }
}

/// <summary>A broker a test started for a <see cref="StationRig"/>, and how the rig's device and cloud clients connect to it.</summary>
internal sealed record RigBroker(MosquittoBroker Broker, Action<MqttUplinkOptions> Device, Action<MqttClientOptionsBuilder> Cloud);

/// <summary>
/// One station on a real Mosquitto: in-memory store, mode controller, engine with the smoke package as the profile's
/// model (version 1), the fleet agent on the device's one MQTT connection, and a cloud side (command client and
/// package pusher, the code path of edgeinspect-fleet). Frames come from the virtual line on a loop of their own;
/// each frame's engine time is recorded.
/// </summary>
internal sealed class StationRig : IAsyncDisposable
{
    public const string Prefix = "ei-fleet";
    public const string DeviceId = "dev-01";
    public static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);

    private readonly CancellationTokenSource _stopFrames = new();
    private Task? _frames;
    private long _produced;

    public required TempDir Tmp { get; init; }
    public required MosquittoBroker Broker { get; init; }
    /// <summary>False when the test started the broker (<see cref="RigBroker"/>) and disposes it itself.</summary>
    public bool OwnsBroker { get; init; } = true;
    public required ECDsa Key { get; init; }
    /// <summary>The operator key the rig's commands are signed with (override role; the rig's device allows remote override).</summary>
    public required ECDsa OperatorKey { get; init; }
    public required TrustedKeys Keys { get; init; }
    public required InMemoryInspectionStore Store { get; init; }
    public required ModeController Modes { get; init; }
    public required InspectorHost Host { get; init; }
    public required StationEngine Engine { get; init; }
    public required FleetAgent Agent { get; init; }
    public required DeviceMqttConnection Connection { get; init; }
    public required FleetMqttBridge Bridge { get; init; }
    public required IMqttClient CloudClient { get; init; }
    public required FleetCommandClient Commands { get; init; }
    public required FleetPackagePusher Pusher { get; init; }

    /// <summary>(timestamp, engine ms, record) per processed frame; written by the frame loop only.</summary>
    public List<(long At, double Ms, InspectionRecord Record)> Processed { get; } = [];

    public long Produced => Interlocked.Read(ref _produced);

    /// <summary>
    /// Starts the station. <paramref name="rigBroker"/>: a broker the test started and how the device and the cloud side
    /// connect to it (TLS, certificates); without, the rig runs an open broker of its own.
    /// </summary>
    public static async Task<StationRig> StartAsync(Action<FleetAgentOptions>? configure = null, int frameIntervalMs = 5, RigBroker? rigBroker = null)
    {
        var tmp = new TempDir();
        var broker = rigBroker?.Broker ?? await MosquittoBroker.LaunchAsync();
        var key = PackageKeys.Create();
        var keyFile = Path.Combine(tmp.Sub("keys"), "fleet.pub");
        File.WriteAllText(keyFile, PackageKeys.ExportPublicPem(key));
        var options = new FleetAgentOptions
        {
            TrustedKeys = [keyFile],
            SlotsFolder = tmp.Sub("data"),
            MaxPackageBytes = 8L * 1024 * 1024,
            MaxUnpackedBytes = 16L * 1024 * 1024,
            MaxChunkBytes = 64 * 1024,
            Promotion = new PromotionOptions { MinParts = 15, MinAgreement = 0 },
            // The smoke model is tiny and disagrees with the human often: these tests are about the control plane.
            Rollback = new RollbackOptions { MaxErrorRate = 1, MaxLatencyMs = 60_000, WindowParts = 20, WatchParts = 40 },
            AllowRemoteOverride = true,
            // A truncated push keeps its slot until abandoned; the bad-package tests push on beside it.
            Transfer = new TransferOptions { MaxConcurrentTransfers = 2 },
        };
        var operatorKey = PackageKeys.Create();
        var operatorFile = Path.Combine(tmp.Sub("keys"), "operator.pub");
        File.WriteAllText(operatorFile, PackageKeys.ExportPublicPem(operatorKey));
        options.Operators.Add(new OperatorOptions { Key = operatorFile, Role = "override", Name = "rig" });
        configure?.Invoke(options);
        var keys = TrustedKeys.FromFiles(options.TrustedKeys);
        var time = TimeProvider.System;
        var store = new InMemoryInspectionStore();
        var modes = new ModeController(store, new AutomationGate(new GateOptions()), time);
        var factory = new OnnxNetworkFactory();
        var inference = new InferenceOptions { WarmUp = false, IntraOpThreads = 1 };
        var loader = new PackageInspectorLoader(factory, inference, () => new OpenCvImageOps());
        // The profile's model: the smoke package as version 1 (not in a slot, like a fresh device).
        var v1 = CopyAndSign(SmokePackage.Folder, Path.Combine(tmp.Path, "profile-model"), key, 1);
        var host = new InspectorHost(loader.Load(v1));
        var human = new SimulatedHumanInspector(new HumanInspectorOptions { Accuracy = 0.97, Seed = 3 });
        var installer = new PackageInstaller(options.SlotsFolder, keys, new DeviceIdentity(DeviceId, options.FleetName),
            new InferencePackageValidator(factory, inference, () => new OpenCvImageOps()), options.MaxUnpackedBytes);
        var agent = new FleetAgent(options, store, modes, host, installer, loader, time);
        var engine = new StationEngine(new StationOptions { DeviceId = DeviceId }, host, modes, store, new SimulatedStationOutputs(), human, time,
            observers: [agent]);
        agent.Start();

        var uplink = new MqttUplinkOptions
        {
            Host = broker.Host,
            Port = broker.Port,
            TopicPrefix = Prefix,
            DeviceId = DeviceId,
            MaxPayloadBytes = 1024 * 1024,
        };
        rigBroker?.Device(uplink);
        var connection = new DeviceMqttConnection(uplink, time, status: () => FleetMqttBridge.StatusOf(agent));
        var bridge = new FleetMqttBridge(connection, agent, options, new CommandOptions { MaxPayloadBytes = 4096 },
            OperatorKeys.FromOptions(options.Operators, FleetAgentOptions.SectionName), store, time);
        await connection.StartAsync();
        if (!await connection.WaitConnectedAsync(TimeSpan.FromSeconds(15))) throw new InvalidOperationException("device did not connect");
        // Subscriptions are re-applied on connect; give the SUBACKs a moment before the cloud side sends.
        await Task.Delay(200);

        var cloud = new MqttClientFactory().CreateMqttClient();
        var cloudOptions = new MqttClientOptionsBuilder().WithTcpServer(broker.Host, broker.Port)
            .WithProtocolVersion(MqttProtocolVersion.V500).WithClientId("cloud-" + Guid.NewGuid().ToString("N")[..8]);
        rigBroker?.Cloud(cloudOptions);
        await cloud.ConnectAsync(cloudOptions.Build());
        var commands = new FleetCommandClient(cloud, Prefix, "tester", time);
        await commands.SubscribeAsync(default);
        var rig = new StationRig
        {
            Tmp = tmp, Broker = broker, OwnsBroker = rigBroker is null, Key = key, OperatorKey = operatorKey, Keys = keys, Store = store, Modes = modes, Host = host, Engine = engine, Agent = agent,
            Connection = connection, Bridge = bridge, CloudClient = cloud, Commands = commands, Pusher = new FleetPackagePusher(cloud, commands, Prefix, key),
        };
        rig.StartFrames(frameIntervalMs);
        return rig;
    }

    /// <summary>Copies a package folder, sets its version (and any other manifest change), fills the hashes and signs it.</summary>
    public static string CopyAndSign(string source, string target, ECDsa key, long version, Action<JsonObject>? edit = null)
    {
        Directory.CreateDirectory(target);
        foreach (var f in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var dest = Path.Combine(target, Path.GetRelativePath(source, f));
            Directory.CreateDirectory(Path.GetDirectoryName(dest)!);
            File.Copy(f, dest, overwrite: true);
        }
        var manifestPath = Path.Combine(target, PackageVerifier.ManifestFileName);
        var manifest = JsonNode.Parse(File.ReadAllText(manifestPath))!.AsObject();
        manifest["version"] = version;
        edit?.Invoke(manifest);
        File.WriteAllText(manifestPath, manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        PackageBuilder.SignFolder(target, key);
        return target;
    }

    /// <summary>A signed package folder for this rig's key, as edgeinspect-fleet pack makes it.</summary>
    public string Package(string name, long version, Action<JsonObject>? edit = null, ECDsa? key = null) =>
        CopyAndSign(SmokePackage.Folder, Path.Combine(Tmp.Path, "pkg-" + name), key ?? Key, version, edit);

    public string Archive(string folder)
    {
        var archive = folder + ".tar";
        PackageArchive.Create(folder, archive);
        return archive;
    }

    /// <summary>Pushes an archive with the fleet tool's pusher; the device's reply.</summary>
    public async Task<CommandReply> PushAsync(string archive, string packageId)
    {
        using var sender = new PackageSender(packageId, archive, 64 * 1024);
        // A manifest that does not parse gives the pusher nothing to state: the test vouches for it as smoke v6.
        var offer = sender.Manifest is null
            ? sender.Offer with { Statement = PackageStatement.For(sender.Offer, "smoke", 6, "device:" + DeviceId, DateTimeOffset.UtcNow).Sign(Key) }
            : null;
        return await Pusher.PushAsync(DeviceId, sender, Wait, null, default, offer: offer);
    }

    public Task<CommandReply> SendAsync(string command, JsonObject? args = null) =>
        Commands.SendAsync(DeviceId, command, args, Wait, OperatorKey, default);

    /// <summary>Waits until <paramref name="condition"/> holds (checked every 50 ms) or fails the test.</summary>
    public static async Task Until(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (sw.Elapsed > (timeout ?? Wait)) Assert.Fail($"timed out after {sw.Elapsed.TotalSeconds:F0} s waiting for {what}");
            await Task.Delay(50);
        }
    }

    public int ProcessedCount { get { lock (Processed) return Processed.Count; } }

    public List<(long At, double Ms, InspectionRecord Record)> Snapshot() { lock (Processed) return [.. Processed]; }

    private void StartFrames(int intervalMs)
    {
        var source = new VirtualLineSource(new PartRenderer(new PartRendererOptions { Seed = 7, Width = 160, Height = 120 }),
            TimeSpan.FromMilliseconds(intervalMs), TimeProvider.System);
        var ct = _stopFrames.Token;
        // One thread, like the inspection stage: frames are processed strictly one after the other.
        _frames = Task.Factory.StartNew(async () =>
        {
            while (!ct.IsCancellationRequested)
            {
                Frame? frame;
                try { frame = await source.ReadAsync(ct); }
                catch (OperationCanceledException) { break; }
                if (frame is null) break;
                Interlocked.Increment(ref _produced);
                using (frame)
                {
                    var start = Stopwatch.GetTimestamp();
                    var record = Engine.Process(frame);
                    var ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                    lock (Processed) Processed.Add((Stopwatch.GetTimestamp(), ms, record));
                }
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    public async Task StopFramesAsync()
    {
        await _stopFrames.CancelAsync();
        if (_frames is not null) await _frames;
    }

    /// <summary>No frame dropped: every frame produced got a record, and in a model-running mode a model verdict.</summary>
    public void AssertNoFrameDropped()
    {
        var all = Snapshot();
        Assert.Equal(Produced, all.Count);
        Assert.Equal(0, Engine.Counters.FramesDropped);
        var noModel = all.Where(p => AutomationPolicy.RunsModel(p.Record.Mode) && p.Record.ModelVerdict is null).ToList();
        Assert.True(noModel.Count == 0, $"{noModel.Count} parts without a model verdict, first: {noModel.FirstOrDefault().Record?.FailReason}");
    }

    public async ValueTask DisposeAsync()
    {
        await StopFramesAsync();
        await Bridge.DisposeAsync();
        await Commands.DisposeAsync();
        CloudClient.Dispose();
        await Connection.DisposeAsync();
        Agent.Dispose();
        Host.Swap(null)?.Dispose();
        if (OwnsBroker) await Broker.DisposeAsync();
        Keys.Dispose();
        Key.Dispose();
        OperatorKey.Dispose();
        _stopFrames.Dispose();
        Tmp.Dispose();
    }
}
