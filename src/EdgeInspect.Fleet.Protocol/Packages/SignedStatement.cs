namespace EdgeInspect.Fleet.Protocol.Packages;

/// <summary>
/// The offer's signature block, shaped like a command envelope: the signing package key's id, the ES256 signature
/// (base64 r || s) and the statement it covers, JSON text carried as a string so the exact signed bytes travel
/// (<see cref="PackageStatement"/>).
/// </summary>
public sealed record SignedStatement(string KeyId, string Signature, string Signed);
