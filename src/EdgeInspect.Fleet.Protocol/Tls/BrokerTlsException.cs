namespace EdgeInspect.Fleet.Protocol.Tls;

/// <summary>
/// A TLS file that is missing or unusable. <see cref="File"/> says which one, so each caller names its own setting
/// (<c>Uplink:CaFile</c> on a device, <c>--tls-ca</c> in edgeinspect-fleet).
/// </summary>
public sealed class BrokerTlsException(BrokerTlsFile file, string? path, string problem)
    : Exception(path is null ? problem : $"file '{path}' {problem}")
{
    public BrokerTlsFile File { get; } = file;

    /// <summary>The file's path; null when the file was not given at all.</summary>
    public string? Path { get; } = path;
}
