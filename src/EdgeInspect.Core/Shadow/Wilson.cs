namespace EdgeInspect.Core.Shadow;

/// <summary>
/// Wilson score interval for a binomial proportion (E. B. Wilson, "Probable inference, the law of succession,
/// and statistical inference", JASA 22, 1927). Chosen over the normal (Wald) interval because it stays inside
/// [0, 1] and keeps its coverage near 0 and 1, where agreement rates of a good model live.
/// </summary>
public static class Wilson
{
    /// <summary>z for a two-sided 95% interval.</summary>
    public const double Z95 = 1.959963984540054;

    public static (double Lower, double Upper) Interval(long successes, long trials, double z = Z95)
    {
        if (trials <= 0) return (0, 1);
        if (successes < 0 || successes > trials) throw new ArgumentOutOfRangeException(nameof(successes));
        double n = trials, p = successes / n, z2 = z * z;
        double centre = (p + z2 / (2 * n)) / (1 + z2 / n);
        double half = z / (1 + z2 / n) * Math.Sqrt(p * (1 - p) / n + z2 / (4 * n * n));
        return (Math.Max(0, centre - half), Math.Min(1, centre + half));
    }

    public static double LowerBound(long successes, long trials, double z = Z95) => Interval(successes, trials, z).Lower;
}
