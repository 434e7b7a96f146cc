namespace EdgeInspect.Storage.LiteDb;

/// <summary>The "Store" section of the device config; validated at start (<see cref="Validate"/> names the key).</summary>
public sealed class StoreOptions
{
    /// <summary>The configuration section bound to these options.</summary>
    public const string SectionName = "Store";

    /// <summary>LiteDB data file; the write-ahead log sits beside it as "&lt;name&gt;-log.db".</summary>
    public string Path { get; set; } = "data/edgeinspect.db";

    /// <summary>
    /// Bytes on disk allowed for the data file, its write-ahead log and the model spool (<see cref="SpoolFolder"/>),
    /// measured from the real file sizes; 0 = no budget. When reached, records are evicted by policy.
    /// </summary>
    public long BudgetBytes { get; set; }

    /// <summary>
    /// The folder of partly received model packages, whose size counts against <see cref="BudgetBytes"/>; null: none.
    /// The station sets it from the fleet agent's spool folder.
    /// </summary>
    public string? SpoolFolder { get; set; }

    /// <summary>
    /// The folder of kept part images (the station's Capture section), counted against <see cref="BudgetBytes"/> like
    /// the spool; null: none. The station sets it when capture is enabled.
    /// </summary>
    public string? ImageFolder { get; set; }

    /// <summary>Eviction stops once stored bytes are below this fraction of the budget (hysteresis: no evict-per-insert).</summary>
    public double LowWaterFraction { get; set; } = 0.9;

    /// <summary>Model confidence below this marks a part "low confidence": kept until last.</summary>
    public double LowConfidence { get; set; } = 0.7;

    /// <summary>
    /// The write-ahead log is copied into the data file (a checkpoint: several fsyncs) once it reaches this size; below
    /// it, each durable commit costs one fsync of the log. LiteDB's own default is 1000 pages (8 KiB each).
    /// </summary>
    public long CheckpointLogBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>
    /// The log size that triggers a checkpoint: <see cref="CheckpointLogBytes"/>, but at most an eighth of the budget
    /// (and never under 64 KiB), so the log's share of a small budget stays small.
    /// </summary>
    public long EffectiveCheckpointLogBytes =>
        BudgetBytes > 0 ? Math.Max(64 * 1024, Math.Min(CheckpointLogBytes, BudgetBytes / 8)) : CheckpointLogBytes;

    /// <summary>
    /// How long the station gathers decided parts into one durable commit (0: only what is already waiting). Every commit
    /// rewrites several 8 KiB pages, so at 10 parts/s a window of 1000 ms writes about a tenth of the bytes per record;
    /// a crash loses at most the window's records (their parts were already actuated).
    /// </summary>
    public int GroupCommitMs { get; set; }

    /// <summary>The smallest <see cref="BudgetBytes"/> accepted.</summary>
    public const long MinBudgetBytes = 1024 * 1024;

    /// <summary>Throws <see cref="InvalidOperationException"/> naming the first invalid key ("Store:&lt;Key&gt;").</summary>
    public void Validate()
    {
        static void Fail(string key, string problem) => throw new InvalidOperationException($"{SectionName}:{key}: {problem}");
        if (string.IsNullOrWhiteSpace(Path)) Fail(nameof(Path), "must name the database file");
        if (BudgetBytes < 0) Fail(nameof(BudgetBytes), "must be >= 0 (0 = no budget)");
        // An empty store file (its collections and indexes) and one checkpoint's worth of log take about 200 KB.
        if (BudgetBytes is > 0 and < MinBudgetBytes) Fail(nameof(BudgetBytes), $"{BudgetBytes} is below the {MinBudgetBytes / 1024 / 1024} MiB minimum");
        if (LowWaterFraction is <= 0 or >= 1) Fail(nameof(LowWaterFraction), "must be in (0, 1)");
        if (CheckpointLogBytes < 64 * 1024) Fail(nameof(CheckpointLogBytes), $"{CheckpointLogBytes} is below the 64 KiB minimum");
        if (LowConfidence is < 0 or > 1) Fail(nameof(LowConfidence), "must be in [0, 1]");
        if (GroupCommitMs is < 0 or > 10_000) Fail(nameof(GroupCommitMs), $"{GroupCommitMs} must be 0..10000");
    }
}
