using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Station.Pipeline;

namespace EdgeInspect.Station.Fleet.Slots;

/// <summary>
/// A model as the fleet puts it into the <see cref="IInspectorHost"/>: counts the Inspect calls in flight, so the model
/// is disposed only when no frame uses it. The inspection stage reads the host and then calls Inspect; a frame that
/// read this model just before a swap and calls it after disposal is inspected by the model now in the host, which is
/// what a swap between two frames means for that frame.
/// </summary>
public sealed class HostedInspector(IInspector inner, IInspectorHost host) : IInspector
{
    // Inspect calls in flight, or -1 once the model is disposed.
    private int _state;

    /// <summary>The wrapped model.</summary>
    public IInspector Inner => inner;

    /// <inheritdoc />
    public string ModelName => Volatile.Read(ref _state) < 0 && Successor() is { } next ? next.ModelName : inner.ModelName;

    /// <inheritdoc />
    public string ModelVersion => Volatile.Read(ref _state) < 0 && Successor() is { } next ? next.ModelVersion : inner.ModelVersion;

    /// <summary>The inspector to put into a host: <paramref name="inspector"/> itself when it is already hosted.</summary>
    public static HostedInspector Wrap(IInspector inspector, IInspectorHost host) =>
        inspector as HostedInspector ?? new HostedInspector(inspector, host);

    /// <inheritdoc />
    public InspectionResult Inspect(Frame frame)
    {
        if (!TryEnter())
        {
            return (Successor() ?? throw new ObjectDisposedException($"{inner.ModelName} v{inner.ModelVersion}")).Inspect(frame);
        }
        try
        {
            return inner.Inspect(frame);
        }
        finally
        {
            Interlocked.Decrement(ref _state);
        }
    }

    /// <summary>Disposes the model when no Inspect call is in flight; false when one is (try again later).</summary>
    public bool TryDispose()
    {
        var prior = Interlocked.CompareExchange(ref _state, -1, 0);
        if (prior == 0) inner.Dispose();
        return prior <= 0;
    }

    /// <summary>Waits for the Inspect calls in flight (one frame at most) and disposes the model.</summary>
    public void Dispose() => SpinWait.SpinUntil(TryDispose);

    private bool TryEnter()
    {
        var seen = Volatile.Read(ref _state);
        while (seen >= 0)
        {
            var before = Interlocked.CompareExchange(ref _state, seen + 1, seen);
            if (before == seen) return true;
            seen = before;
        }
        return false;
    }

    private IInspector? Successor() => host.Current is { } next && !ReferenceEquals(next, this) ? next : null;
}
