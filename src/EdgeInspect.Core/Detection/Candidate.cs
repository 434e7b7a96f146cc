namespace EdgeInspect.Core.Detection;

/// <summary>
/// One box in flight through the cascade. Coordinates are doubles because the reference (numpy) computes in
/// float64 and truncates with fix(): float32 would move boxes by a pixel at truncation boundaries.
/// Corners are inclusive pixel indices, as in the MTCNN reference code.
/// </summary>
public struct Candidate
{
    public double X1;
    public double Y1;
    public double X2;
    public double Y2;
    public double Score;
    /// <summary>Box regression offsets (dx1, dy1, dx2, dy2) relative to the box width and height.</summary>
    public double Dx1;
    public double Dy1;
    public double Dx2;
    public double Dy2;
    /// <summary>Row of this candidate in the stage's network batch (for landmarks), or -1.</summary>
    public int Tag;

    public Candidate(double x1, double y1, double x2, double y2, double score)
    {
        X1 = x1; Y1 = y1; X2 = x2; Y2 = y2; Score = score; Tag = -1;
        Dx1 = Dy1 = Dx2 = Dy2 = 0;
    }
}

/// <summary>A growable array of candidates, reused across frames (capacity only grows).</summary>
public sealed class CandidateList
{
    private Candidate[] _items;

    public CandidateList(int capacity = 256) => _items = new Candidate[Math.Max(1, capacity)];

    public int Count { get; set; }

    public Span<Candidate> Span => _items.AsSpan(0, Count);

    public ref Candidate this[int index] => ref _items[index];

    public void Clear() => Count = 0;

    public void Add(in Candidate c)
    {
        if (Count == _items.Length) Array.Resize(ref _items, _items.Length * 2);
        _items[Count++] = c;
    }

    /// <summary>Appends every item of <paramref name="other"/>.</summary>
    public void AddRange(ReadOnlySpan<Candidate> other)
    {
        if (Count + other.Length > _items.Length) Array.Resize(ref _items, Math.Max(_items.Length * 2, Count + other.Length));
        other.CopyTo(_items.AsSpan(Count));
        Count += other.Length;
    }
}
