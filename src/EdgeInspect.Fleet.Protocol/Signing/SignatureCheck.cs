namespace EdgeInspect.Fleet.Protocol.Signing;

/// <summary>The outcome of a signature check: the failure (None when valid), the signing key id and a reason.</summary>
public readonly record struct SignatureCheck(SignatureFailure Failure, string? KeyId, string Reason)
{
    /// <summary>True when the signature holds for a trusted key.</summary>
    public bool IsValid => Failure == SignatureFailure.None;
}
