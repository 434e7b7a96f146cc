namespace EdgeInspect.Fleet.Protocol.Transfer;

/// <summary>What a device accepts on an offer: archive size, chunk size and chunk count.</summary>
public sealed class TransferLimits
{
    /// <summary>Largest package archive a device accepts (the offer is refused above it).</summary>
    public long MaxPackageBytes { get; set; } = 256L * 1024 * 1024;
    /// <summary>Largest chunk; must stay under the broker's and the client's maximum packet size.</summary>
    public int MaxChunkBytes { get; set; } = 256 * 1024;
    /// <summary>
    /// Smallest chunk (the last one excepted). The device keeps per-chunk state and pays a disk write per chunk, so
    /// tiny chunks turn a modest archive into millions of messages and allocations.
    /// </summary>
    public int MinChunkBytes { get; set; } = 1024;
    /// <summary>Most chunks per transfer; bounds the per-transfer state and the "missing" list in a reply.</summary>
    public int MaxChunkCount { get; set; } = 16_384;
}
