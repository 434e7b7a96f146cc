namespace EdgeInspect.Fleet.Protocol.Signing;

/// <summary>A key file or key text that is not an ECDSA P-256 PEM key.</summary>
public sealed class KeyFormatException(string message) : Exception(message);
