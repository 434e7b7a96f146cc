using System.Security.Cryptography;
using System.Text;
using EdgeInspect.Core.Packages;
using EdgeInspect.Fleet.Packages;
using EdgeInspect.Fleet.Protocol.Packages;
using EdgeInspect.Fleet.Protocol.Signing;
using EdgeInspect.Station.Fleet.Slots;

namespace EdgeInspect.Fleet.Tests;

/// <summary>Temp folders and small signed packages built through the same code the fleet tool uses.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Path = Directory.CreateTempSubdirectory("edgeinspect-fleet-").FullName;

    public string Path { get; }

    public string Sub(string name)
    {
        var p = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(p);
        return p;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

internal static class TestPackages
{
    public static ModelManifest Manifest(long version, string classifierFile = "classifier.onnx") => new()
    {
        Name = "test-defects",
        Version = version,
        Classifier = new ClassifierSpec
        {
            File = classifierFile,
            Input = new InputSpec { Name = "input", Width = 32, Height = 32, Layout = "NCHW" },
            Output = "probs",
            Classes = ["ok", "scratch"],
        },
        Golden = [new GoldenImage { File = "golden/ok.png", ExpectVerdict = "ok" }],
    };

    /// <summary>Writes a folder with the manifest's files (given bytes) and signs it with <paramref name="key"/>.</summary>
    public static string Build(string folder, ECDsa key, ModelManifest manifest, byte[]? classifierBytes = null)
    {
        Directory.CreateDirectory(System.IO.Path.Combine(folder, "golden"));
        File.WriteAllBytes(System.IO.Path.Combine(folder, manifest.Classifier!.File), classifierBytes ?? RandomNumberGenerator.GetBytes(3000));
        File.WriteAllBytes(System.IO.Path.Combine(folder, "golden", "ok.png"), Encoding.ASCII.GetBytes("not really a png, hashed only"));
        File.WriteAllBytes(System.IO.Path.Combine(folder, PackageVerifier.ManifestFileName),
            System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(manifest, PackageVerifier.ManifestJson));
        PackageBuilder.SignFolder(folder, key);
        return folder;
    }

    /// <summary>The device's one MQTT connection to a test broker, connected (birth published, subscriptions live).</summary>
    public static async Task<EdgeInspect.Sync.Mqtt.DeviceMqttConnection> DeviceConnection(EdgeInspect.TestSupport.MosquittoBroker broker, string prefix, string deviceId)
    {
        var connection = new EdgeInspect.Sync.Mqtt.DeviceMqttConnection(new EdgeInspect.Sync.Mqtt.MqttUplinkOptions
        {
            Host = broker.Host,
            Port = broker.Port,
            TopicPrefix = prefix,
            DeviceId = deviceId,
            ClientId = "device-" + Guid.NewGuid().ToString("N")[..8],
            MaxPayloadBytes = 1024 * 1024,
        });
        await connection.StartAsync();
        // 30 s: a loopback connect takes milliseconds, but a CI run under a load average of 40 once took over 10 s.
        if (!await connection.WaitConnectedAsync(TimeSpan.FromSeconds(30)))
            throw new InvalidOperationException($"device connection to {broker.Host}:{broker.Port} did not come up in 30 s");
        return connection;
    }

    /// <summary>The offer for <paramref name="archive"/> with a statement signed by <paramref name="key"/> for <paramref name="target"/>, as the pusher makes it.</summary>
    public static EdgeInspect.Fleet.Protocol.Transfer.TransferOffer SignedOffer(string archive, ECDsa key, string target = "device:dev-01", string packageId = "pkg",
        int chunkSize = 64 * 1024, bool rollback = false)
    {
        using var sender = new PackageSender(packageId, archive, chunkSize, rollback);
        return sender.SignedOffer(key, target, DateTimeOffset.UtcNow);
    }

    public static TrustedKeys Trust(params ECDsa[] keys) =>
        new(keys.Select((k, i) => (PackageKeys.ExportPublicPem(k), $"key{i}")));
}
