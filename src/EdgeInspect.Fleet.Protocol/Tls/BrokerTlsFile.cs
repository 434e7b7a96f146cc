namespace EdgeInspect.Fleet.Protocol.Tls;

/// <summary>Which of the files of a mutual-TLS broker connection a <see cref="BrokerTlsException"/> is about.</summary>
public enum BrokerTlsFile
{
    /// <summary>The CA that must have signed the broker's certificate.</summary>
    CaCertificate,

    /// <summary>This client's certificate (PEM).</summary>
    ClientCertificate,

    /// <summary>This client's private key (PEM).</summary>
    ClientKey,
}
