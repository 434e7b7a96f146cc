using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EdgeInspect.Fleet.Protocol.Tls;

/// <summary>
/// The mutual-TLS material of one broker connection, loaded the same way on a device and in edgeinspect-fleet: the fleet
/// CA the broker's certificate must chain to (and only that CA, not the system store: a device talks to its own fleet's
/// broker) and this client's certificate with its private key, from PEM files (device-config/broker/make-test-ca.sh
/// makes them; Mosquitto's <c>use_identity_as_username</c> turns the certificate's CN into the client's username).
/// </summary>
public sealed class BrokerTls : IDisposable
{
    private BrokerTls(X509Certificate2Collection? ca, X509Certificate2? clientCertificate)
    {
        CaCertificates = ca;
        ClientCertificate = clientCertificate;
    }

    /// <summary>The CA certificates to trust for the broker; null: the system's trust store decides.</summary>
    public X509Certificate2Collection? CaCertificates { get; }

    /// <summary>This client's certificate with its private key; null: no client certificate is offered.</summary>
    public X509Certificate2? ClientCertificate { get; }

    /// <summary>
    /// Reads the files (each may be null: not used). Throws <see cref="BrokerTlsException"/> naming the file that is
    /// missing, holds no certificate, or whose key does not match the certificate.
    /// </summary>
    public static BrokerTls Load(string? caFile, string? clientCertFile, string? clientKeyFile)
    {
        if (clientCertFile is null != clientKeyFile is null)
        {
            throw clientCertFile is null
                ? new BrokerTlsException(BrokerTlsFile.ClientCertificate, null, "not set, but a client key is: a client certificate and its key go together")
                : new BrokerTlsException(BrokerTlsFile.ClientKey, null, "not set, but a client certificate is: a client certificate and its key go together");
        }
        var ca = caFile is null ? null : LoadCa(caFile);
        try
        {
            return new BrokerTls(ca, clientCertFile is null ? null : LoadClientCertificate(clientCertFile, clientKeyFile!));
        }
        catch
        {
            Dispose(ca);
            throw;
        }
    }

    /// <summary>
    /// The client certificate's subject CN, or null without one: the MQTT username the EdgeInspect broker gives this
    /// client (<c>use_identity_as_username</c>), and so, for a device, the subtree its ACL allows.
    /// </summary>
    public string? ClientIdentity => ClientCertificate?.GetNameInfo(X509NameType.SimpleName, forIssuer: false);

    /// <summary>
    /// The server-certificate check for the TLS handshake: with <see cref="CaCertificates"/>, the broker's certificate
    /// must chain to one of them (revocation is not checked: a fleet CA publishes no CRL endpoint a device could reach
    /// offline) and carry the host name the client dialled; without, the platform's own verdict stands.
    /// </summary>
    public bool IsTrustedBroker(X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null) return false;
        if (CaCertificates is null) return errors == SslPolicyErrors.None;
        // The platform's chain check ran against the system store, where the fleet CA is not: only that error is ours to redo.
        if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        // Everything needed is in the files: no fetching of missing intermediates (AIA) during a handshake.
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.CustomTrustStore.AddRange(CaCertificates);
        using var leaf = new X509Certificate2(certificate);
        var ok = chain.Build(leaf);
        foreach (var element in chain.ChainElements) element.Certificate.Dispose();
        return ok;
    }

    public void Dispose()
    {
        Dispose(CaCertificates);
        ClientCertificate?.Dispose();
    }

    private static void Dispose(X509Certificate2Collection? certificates)
    {
        if (certificates is null) return;
        foreach (var c in certificates) c.Dispose();
    }

    private static X509Certificate2Collection LoadCa(string path)
    {
        var ca = new X509Certificate2Collection();
        Import(BrokerTlsFile.CaCertificate, path, ca);
        if (ca.Count == 0) throw new BrokerTlsException(BrokerTlsFile.CaCertificate, path, "holds no PEM certificate");
        return ca;
    }

    private static X509Certificate2 LoadClientCertificate(string certPath, string keyPath)
    {
        var certs = new X509Certificate2Collection();
        Import(BrokerTlsFile.ClientCertificate, certPath, certs);
        var count = certs.Count;
        Dispose(certs);
        if (count == 0) throw new BrokerTlsException(BrokerTlsFile.ClientCertificate, certPath, "holds no PEM certificate");
        if (!File.Exists(keyPath)) throw new BrokerTlsException(BrokerTlsFile.ClientKey, keyPath, "not found");
        X509Certificate2 pem;
        try
        {
            pem = X509Certificate2.CreateFromPemFile(certPath, keyPath);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            // ArgumentException: a well-formed key of another certificate (CopyWithPrivateKey's check).
            throw new BrokerTlsException(BrokerTlsFile.ClientKey, keyPath, $"is not the PEM private key of '{certPath}': {e.Message}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BrokerTlsException(BrokerTlsFile.ClientKey, keyPath, $"cannot be read: {e.Message}");
        }
        using (pem)
        {
            // A PEM key is an ephemeral key, which SslStream cannot use on Windows (Schannel: "No credentials are
            // available in the security package", dotnet/runtime#23749); a PKCS#12 round trip gives it a key it can,
            // and changes nothing on Linux.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
    }

    private static void Import(BrokerTlsFile which, string path, X509Certificate2Collection into)
    {
        if (!File.Exists(path)) throw new BrokerTlsException(which, path, "not found");
        try
        {
            into.ImportFromPemFile(path);
        }
        catch (CryptographicException e)
        {
            throw new BrokerTlsException(which, path, $"is not a PEM certificate file: {e.Message}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BrokerTlsException(which, path, $"cannot be read: {e.Message}");
        }
    }
}
