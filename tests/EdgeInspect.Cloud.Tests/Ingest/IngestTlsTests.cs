using EdgeInspect.Fleet.Tests.Broker;
using EdgeInspect.TestSupport;
using Xunit;
using static EdgeInspect.Cloud.Tests.Ingest.IngestTesting;
using static EdgeInspect.TestSupport.Poll;

namespace EdgeInspect.Cloud.Tests.Ingest;

/// <summary>
/// The ingest against Mosquitto run with the shipped TLS config and ACL (device-config/broker), certificates from
/// make-test-ca.sh: the ingest's certificate (CN "ingest") must be allowed its shared subscriptions and its acks by
/// the ACL's <c>user ingest</c> block, and the devices theirs by the per-device pattern.
/// </summary>
public sealed class IngestTlsTests(PostgresFixture pg) : IClassFixture<PostgresFixture>, IDisposable
{
    private static readonly string ConfigFile = Path.Combine(RepoPaths.Root, "device-config", "broker", "edgeinspect.conf");
    private static readonly string AclFile = Path.Combine(RepoPaths.Root, "device-config", "broker", "edgeinspect.acl");
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-ingest-tls-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    [Trait(TestCategories.Name, TestCategories.Slow)]
    [PostgresFact]
    public async Task Ingest_TwoInstancesOverTlsWithTheBrokerAcl_SharedSubscriptionSplitsLoadNothingLostOrDoubled()
    {
        var ca = await TestCa.MakeAsync(Path.Combine(_dir, "ca"), "dev-t0", "dev-t1", "dev-t2");
        await using var broker = await MosquittoBroker.LaunchWithConfigFileAsync(ConfigFile, (text, port) => text
            .Replace("listener 8883", $"listener {port} 127.0.0.1", StringComparison.Ordinal)
            .Replace("/etc/mosquitto/ca_certificates/edgeinspect-ca.pem", ca.CaFile, StringComparison.Ordinal)
            .Replace("/etc/mosquitto/certs/edgeinspect-broker.pem", ca.BrokerCert, StringComparison.Ordinal)
            .Replace("/etc/mosquitto/certs/edgeinspect-broker.key", ca.BrokerKey, StringComparison.Ordinal)
            .Replace("/etc/mosquitto/conf.d/edgeinspect.acl", AclFile, StringComparison.Ordinal));
        var cs = await pg.Cluster!.CreateDatabaseAsync("t" + Guid.NewGuid().ToString("N")[..12]);
        Cloud.Ingest.IngestOptions Tls(string clientId)
        {
            var o = Options(cs, broker, clientId);
            o.UseTls = true;
            o.CaFile = ca.CaFile;
            o.ClientCertFile = ca.CertOf(TestCa.Ingest);
            o.ClientKeyFile = ca.KeyOf(TestCa.Ingest);
            return o;
        }
        var (a, dbA) = await StartWorkerAsync(Tls("ingest-a"));
        var (b, dbB) = await StartWorkerAsync(Tls("ingest-b"));
        await using var _ = dbA;
        await using var __ = dbB;
        var stations = new List<SimulatedStation>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var id = $"dev-t{i}";
                var s = new SimulatedStation(_dir, broker.Host, broker.Port, id, configure: o =>
                {
                    o.UseTls = true;
                    o.CaFile = ca.CaFile;
                    o.ClientCertFile = ca.CertOf(id);
                    o.ClientKeyFile = ca.KeyOf(id);
                });
                stations.Add(s);
                await s.StartAsync();
            }
            foreach (var s in stations) s.Append(200);
            await Until(() => stations.All(s => s.Store.PendingCount == 0), TimeSpan.FromSeconds(60),
                "every outbox drained by acks through the ACL; broker log:\n" + broker.ReadLog());
        }
        finally
        {
            foreach (var s in stations) await s.DisposeAsync();
            await a.StopAsync(CancellationToken.None);
            await b.StopAsync(CancellationToken.None);
        }
        Assert.True(a.Inserted > 0 && b.Inserted > 0, $"load split: instance a stored {a.Inserted}, b {b.Inserted}");
        Assert.Equal(600, a.Inserted + b.Inserted);
        foreach (var s in stations)
        {
            Assert.Equal(Enumerable.Range(1, 200).Select(i => (long)i), await SequencesAsync(cs, s.DeviceId));
        }
        a.Dispose();
        b.Dispose();
    }
}
