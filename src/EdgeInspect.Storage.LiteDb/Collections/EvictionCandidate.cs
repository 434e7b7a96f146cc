namespace EdgeInspect.Storage.LiteDb.Collections;

/// <summary>A record the disk budget may evict: its sequence number, <see cref="EvictionPolicy"/> class, counted size and eviction key.</summary>
/// <param name="Sequence">The record's sequence number.</param>
/// <param name="EvictionClass">Its <see cref="EvictionPolicy"/> class.</param>
/// <param name="Size">The bytes it counts against the budget.</param>
/// <param name="Key">Its place in eviction order (<see cref="RecordCollection.EvictionCandidates"/> pages after it).</param>
internal readonly record struct EvictionCandidate(long Sequence, int EvictionClass, long Size, long Key);
