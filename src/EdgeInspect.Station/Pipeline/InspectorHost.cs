using EdgeInspect.Core.Inspection;

namespace EdgeInspect.Station.Pipeline;

/// <summary>The station's <see cref="IInspectorHost"/>; disposing it disposes the model it holds last.</summary>
public sealed class InspectorHost(IInspector? initial = null) : IInspectorHost, IDisposable
{
    private IInspector? _current = initial;

    /// <inheritdoc />
    public IInspector? Current => Volatile.Read(ref _current);

    /// <inheritdoc />
    public IInspector? Swap(IInspector? next) => Interlocked.Exchange(ref _current, next);

    /// <summary>Disposes the installed model (at shutdown, after the stages have stopped).</summary>
    public void Dispose() => Swap(null)?.Dispose();
}
