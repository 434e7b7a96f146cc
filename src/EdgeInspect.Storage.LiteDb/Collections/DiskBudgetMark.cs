namespace EdgeInspect.Storage.LiteDb.Collections;

/// <summary>The <see cref="DiskBudget"/> counters at one moment, to restore after a rollback.</summary>
/// <param name="StoredBytes">Bytes counted against the budget.</param>
/// <param name="EvictedUnsent">Evicted records that were still in the outbox.</param>
/// <param name="Evictions">Evictions by <see cref="EvictionPolicy"/> class (a copy).</param>
internal sealed record DiskBudgetMark(long StoredBytes, long EvictedUnsent, long[] Evictions);
