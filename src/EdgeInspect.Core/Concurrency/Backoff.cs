namespace EdgeInspect.Core.Concurrency;

/// <summary>
/// The one retry schedule of the device and the cloud: the wait doubles per failure from a first value up to a cap,
/// and reconnects take "equal jitter" (half fixed, half random) so a fleet that lost its broker together does not
/// come back in one burst.
/// </summary>
public static class Backoff
{
    /// <summary>
    /// <paramref name="first"/> seconds doubled <paramref name="doublings"/> times, at most <paramref name="cap"/>
    /// seconds. Past 30 doublings every sane cap is reached, so the exponent stops there.
    /// </summary>
    public static double Seconds(int doublings, double first, double cap) =>
        Math.Min(cap, first * Math.Pow(2, Math.Clamp(doublings, 0, 30)));

    /// <summary><paramref name="seconds"/> with equal jitter: between half of it and all of it.</summary>
    public static TimeSpan WithEqualJitter(double seconds, Random random) =>
        TimeSpan.FromSeconds(seconds / 2 + random.NextDouble() * seconds / 2);
}
