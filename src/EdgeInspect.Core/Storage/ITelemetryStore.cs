namespace EdgeInspect.Core.Storage;

/// <summary>What the telemetry publisher needs from the local store: somewhere to keep snapshots, and the eviction counts.</summary>
public interface ITelemetryStore
{
    /// <summary>Stores one telemetry snapshot (camelCase JSON, <see cref="RecordJson"/>).</summary>
    void AppendTelemetry(DateTimeOffset at, byte[] json);

    /// <summary>Records evicted by the disk budget, by reason, since the store was created.</summary>
    IReadOnlyDictionary<string, long> Evictions { get; }

    /// <summary>Evicted records that had not reached the broker yet.</summary>
    long EvictedUnsent { get; }

    /// <summary>Records parked by the uplink (the broker kept refusing them): kept, not sent.</summary>
    long ParkedCount { get; }
}
