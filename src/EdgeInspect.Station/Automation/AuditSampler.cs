using EdgeInspect.Station.VirtualLine;

namespace EdgeInspect.Station.Automation;

/// <summary>
/// Picks the parts that go to the human inspector in partial and full (audit sampling), so the active model's
/// agreement keeps being measured while it decides. Each part is drawn independently with probability
/// <c>rate</c>: the line cannot predict which part is audited, and the sampled parts are an unbiased sample of the
/// parts the model would have decided. Seeded, the draws repeat exactly (tests). Called by the inspection stage only
/// (one thread); allocates nothing per part.
/// </summary>
public sealed class AuditSampler
{
    private readonly double _rate;
    private SplitMix64 _random;

    /// <param name="rate">Fraction of parts sampled, 0..1 (0: none).</param>
    /// <param name="seed">Fixed seed for a repeatable sequence; null: seeded from the OS's random source.</param>
    public AuditSampler(double rate, ulong? seed = null)
    {
        if (rate is < 0 or > 1 || double.IsNaN(rate)) throw new ArgumentOutOfRangeException(nameof(rate), rate, "must be between 0 and 1");
        _rate = rate;
        _random = new SplitMix64(seed ?? (ulong)Random.Shared.NextInt64());
    }

    /// <summary>The fraction of parts sampled.</summary>
    public double Rate => _rate;

    /// <summary>Whether the next part goes to the human.</summary>
    public bool Next() => _rate > 0 && _random.Chance(_rate);
}
