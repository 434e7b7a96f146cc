namespace EdgeInspect.Station.VirtualLine;

/// <summary>
/// A tiny deterministic generator (SplitMix64, Steele, Lea and Flood, "Fast splittable pseudorandom
/// number generators", OOPSLA 2014). A struct so a render allocates nothing, and our own so that the
/// same seed gives the same parts on every .NET version (System.Random's seeded sequence is not a contract).
/// </summary>
internal struct SplitMix64
{
    private ulong _state;

    public SplitMix64(ulong seed) => _state = seed;

    /// <summary>Seed for part <paramref name="index"/> of line <paramref name="seed"/>: independent streams per part.</summary>
    public static SplitMix64 ForPart(int seed, long index)
    {
        var mixer = new SplitMix64(((ulong)(uint)seed << 32) ^ 0x9E3779B97F4A7C15UL);
        ulong s = mixer.NextULong() ^ (ulong)index * 0xD1B54A32D192ED03UL;
        return new SplitMix64(s);
    }

    public ulong NextULong()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1).</summary>
    public double NextDouble() => (NextULong() >> 11) * (1.0 / (1UL << 53));

    public float NextFloat(float min, float max) => min + (float)NextDouble() * (max - min);

    /// <summary>Uniform integer in [min, max).</summary>
    public int NextInt(int min, int max) => min + (int)(NextDouble() * (max - min));

    public bool Chance(double p) => NextDouble() < p;

    public uint NextSeed() => (uint)(NextULong() >> 32);
}

/// <summary>Hash-based value noise: stateless, so any pixel can be evaluated in any order without tables.</summary>
internal static class Noise
{
    /// <summary>Integer hash to [0, 1) (a variant of the lowbias32 finaliser by C. Wellons).</summary>
    public static float Hash(int x, int y, uint seed)
    {
        uint h = (uint)x * 0x8DA6B343u ^ (uint)y * 0xD8163841u ^ seed * 0xCB1AB31Fu;
        h ^= h >> 16; h *= 0x7FEB352Du;
        h ^= h >> 15; h *= 0x846CA68Bu;
        h ^= h >> 16;
        return (h >> 8) * (1f / (1 << 24));
    }

    /// <summary>Bilinear value noise in [0, 1) with smoothstep weights.</summary>
    public static float Value(float x, float y, uint seed)
    {
        int xi = (int)MathF.Floor(x), yi = (int)MathF.Floor(y);
        float fx = x - xi, fy = y - yi;
        fx = fx * fx * (3 - 2 * fx);
        fy = fy * fy * (3 - 2 * fy);
        float a = Hash(xi, yi, seed), b = Hash(xi + 1, yi, seed);
        float c = Hash(xi, yi + 1, seed), d = Hash(xi + 1, yi + 1, seed);
        float top = a + (b - a) * fx, bottom = c + (d - c) * fx;
        return top + (bottom - top) * fy;
    }
}
