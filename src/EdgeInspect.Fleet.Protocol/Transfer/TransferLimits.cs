namespace EdgeInspect.Fleet.Protocol.Transfer;

/// <summary>What a device accepts on an offer: archive size and chunk size.</summary>
public sealed class TransferLimits
{
    /// <summary>Largest package archive a device accepts (the offer is refused above it).</summary>
    public long MaxPackageBytes { get; set; } = 256L * 1024 * 1024;
    /// <summary>Largest chunk; must stay under the broker's and the client's maximum packet size.</summary>
    public int MaxChunkBytes { get; set; } = 256 * 1024;
}
