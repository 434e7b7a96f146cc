namespace EdgeInspect.Core.Inference;

/// <summary>
/// A caller-owned float tensor: pinned storage (pinned object heap, so a backend can wrap it
/// without copying or re-pinning) plus its current shape. Reused across calls; the storage only
/// grows, so once warm a hot path that reshapes within its capacity allocates nothing.
/// </summary>
public sealed class TensorBuffer
{
    private readonly long[] _shape = new long[MaxRank];
    private float[] _data;

    /// <summary>Highest rank supported (N, C, H, W plus slack).</summary>
    public const int MaxRank = 6;

    public TensorBuffer(int initialCapacity = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(initialCapacity);
        _data = initialCapacity == 0 ? [] : GC.AllocateUninitializedArray<float>(initialCapacity, pinned: true);
    }

    /// <summary>The pinned backing array; may be longer than <see cref="Length"/>.</summary>
    public float[] Data => _data;

    public int Rank { get; private set; }

    /// <summary>Element count of the current shape.</summary>
    public int Length { get; private set; }

    /// <summary>Bumped whenever the backing array is replaced (backends key cached native views on it).</summary>
    public int Generation { get; private set; }

    public ReadOnlySpan<long> Shape => _shape.AsSpan(0, Rank);

    public Span<float> Span => _data.AsSpan(0, Length);

    /// <summary>Sets the shape, growing the storage (to at least 1.5x) only when it is too small.</summary>
    public void SetShape(ReadOnlySpan<long> shape)
    {
        if (shape.Length is 0 or > MaxRank) throw new ArgumentException($"rank must be 1..{MaxRank}, got {shape.Length}", nameof(shape));
        long count = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException("dimensions must be >= 0 (resolve dynamic dims before SetShape)", nameof(shape));
            count *= d;
        }
        if (count > int.MaxValue) throw new ArgumentException("tensor too large", nameof(shape));
        if (count > _data.Length)
        {
            int capacity = (int)Math.Min(int.MaxValue, Math.Max(count, _data.Length + (_data.Length / 2)));
            _data = GC.AllocateUninitializedArray<float>(capacity, pinned: true);
            Generation++;
        }
        shape.CopyTo(_shape);
        Rank = shape.Length;
        Length = (int)count;
    }

    /// <summary>Convenience for the common ranks.</summary>
    public void SetShape(long d0, long d1) { Span<long> s = [d0, d1]; SetShape(s); }

    public void SetShape(long d0, long d1, long d2, long d3) { Span<long> s = [d0, d1, d2, d3]; SetShape(s); }

    public override string ToString() => $"[{string.Join(", ", Shape.ToArray())}]";
}
