using System.Buffers;

namespace EdgeInspect.Core.Imaging;

/// <summary>
/// Interleaved 8-bit BGR pixels (OpenCV's native order, so capture needs no conversion), rented
/// from a pool so the frame path allocates nothing per frame once warm. The owner returns it
/// with <see cref="Dispose"/>; channel order for a network is applied while packing its tensor.
/// </summary>
public sealed class ImageBuffer : IDisposable
{
    private byte[]? _pixels;

    public ImageBuffer(int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        Width = width;
        Height = height;
        _pixels = ArrayPool<byte>.Shared.Rent(width * height * 3);
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
            ArrayPool<byte>.Shared.Return(Array);
            _pixels = ArrayPool<byte>.Shared.Rent(needed);
        }
        Width = width;
        Height = height;
    }

    public void Dispose()
    {
        var p = Interlocked.Exchange(ref _pixels, null);
        if (p is not null) ArrayPool<byte>.Shared.Return(p);
    }
}
