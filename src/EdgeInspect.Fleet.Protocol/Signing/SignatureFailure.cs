namespace EdgeInspect.Fleet.Protocol.Signing;

/// <summary>Why a signature was refused.</summary>
public enum SignatureFailure
{
    None = 0,
    /// <summary>manifest.sig absent or not a signature document.</summary>
    Malformed,
    /// <summary>Algorithm other than ES256.</summary>
    UnsupportedAlgorithm,
    /// <summary>Signed by a key the device config does not list.</summary>
    UnknownKey,
    /// <summary>The signature does not verify over the manifest bytes with the named key.</summary>
    BadSignature,
    /// <summary>The key is on the device's revocation list (<see cref="KeyRevocations"/>).</summary>
    Revoked,
}
