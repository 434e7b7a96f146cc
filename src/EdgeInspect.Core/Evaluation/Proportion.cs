using EdgeInspect.Core.Shadow;

namespace EdgeInspect.Core.Evaluation;

/// <summary>
/// A counted rate with its Wilson 95 % interval: <see cref="Count"/> of <see cref="Of"/> parts. A rate of no parts is
/// unmeasured: <see cref="Rate"/> is null and the interval is the uninformative 0..1.
/// </summary>
public sealed record Proportion(int Count, int Of)
{
    /// <summary>Count / Of; null when there were no parts to count.</summary>
    public double? Rate => Of == 0 ? null : (double)Count / Of;

    /// <summary>Wilson 95 % lower bound.</summary>
    public double Lower => Wilson.Interval(Count, Of).Lower;

    /// <summary>Wilson 95 % upper bound.</summary>
    public double Upper => Wilson.Interval(Count, Of).Upper;

    /// <summary>"4.3 % (3 of 70, 95 % CI 1.5 .. 11.9 %)", or "n/a (no parts)".</summary>
    public string ToText() => Rate is { } r
        ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{r * 100:0.0} % ({Count} of {Of}, 95 % CI {Lower * 100:0.0} .. {Upper * 100:0.0} %)")
        : "n/a (no parts)";
}
