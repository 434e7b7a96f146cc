using EdgeInspect.Core.Imaging;

namespace EdgeInspect.Station.VirtualLine;

/// <summary>
/// The virtual line as a frame source: a part passes the camera every <see cref="Interval"/> and the
/// (simulated) part-present sensor triggers one frame per part, which carries its <see cref="PartTruth"/>.
/// Waits through the injected TimeProvider, so tests run it on fake time.
/// </summary>
public sealed class VirtualLineSource(PartRenderer renderer, TimeSpan interval, TimeProvider time, long? count = null) : IFrameSource
{
    private long _next;

    public string Name => $"virtual-line(seed {renderer.Options.Seed})";
    public bool Triggered => true;
    public TimeSpan Interval { get; } = interval;

    public async ValueTask<Frame?> ReadAsync(CancellationToken cancellationToken)
    {
        if (count is { } c && _next >= c) return null;
        if (Interval > TimeSpan.Zero) await Task.Delay(Interval, time, cancellationToken);
        var image = new ImageBuffer(renderer.Options.Width, renderer.Options.Height);
        long index = _next++;
        var truth = renderer.Render(index, image);
        return new Frame(image, index, time.GetUtcNow(), truth.PartId) { GroundTruth = truth };
    }

    public void Dispose() { }
}
