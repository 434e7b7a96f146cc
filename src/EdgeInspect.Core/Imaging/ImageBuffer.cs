using System.Buffers;

namespace EdgeInspect.Core.Imaging;

/// <summary>
/// Interleaved 8-bit BGR pixels (OpenCV's native order, so capture needs no conversion), rented
/// from a pool so the frame path allocates nothing per frame once warm. The owner returns it
/// with <see cref="Dispose"/>; channel order for a network is applied while packing its tensor.
/// </summary>
public sealed class ImageBuffer : IDisposable
{
    // A pool of its own, not ArrayPool.Shared: the shared pool keeps only a few arrays per size per core, and a
    // station holds a dozen frames in flight across its stages (capture queue, inspection, record queue), so that
    // pool runs dry and frames allocate their pixels anew (bench pipeline shows it). Arrays are kept only once
    // returned, so this holds what the pipeline's depth needs and no more.
    private static readonly ArrayPool<byte> Pool = ArrayPool<byte>.Create(maxArrayLength: 64 * 1024 * 1024, maxArraysPerBucket: 64);

    private byte[]? _pixels;

    public ImageBuffer(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        Width = width;
        Height = height;
        _pixels = Pool.Rent(width * height * 3);
    }

    public int Width { get; private set; }
    public int Height { get; private set; }
    public int Stride => Width * 3;
    public int Length => Width * Height * 3;

    /// <summary>The backing array; may be longer than <see cref="Length"/> (pooled).</summary>
    public byte[] Array => _pixels ?? throw new ObjectDisposedException(nameof(ImageBuffer));

    public Span<byte> Pixels => Array.AsSpan(0, Length);

    /// <summary>Reshape in place, renting a larger array only when the current one is too small.</summary>
    public void Reshape(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        int needed = width * height * 3;
        if (Array.Length < needed)
        {
            Pool.Return(Array);
            _pixels = Pool.Rent(needed);
        }
        Width = width;
        Height = height;
    }

    public void Dispose()
    {
        var p = Interlocked.Exchange(ref _pixels, null);
        if (p is not null) Pool.Return(p);
    }
}
