using EdgeInspect.Core.Inspection;

namespace EdgeInspect.Station.Pipeline;

/// <summary>
/// Holds the inspector the pipeline uses. For the fleet's hot swap: <see cref="Swap"/> replaces it atomically;
/// the inspection stage reads <see cref="Current"/> once per frame, so a swap takes effect between two frames and
/// no frame is dropped. The old inspector is returned to the caller, who disposes it once the frame in flight is
/// done (the stage holds no reference beyond one Inspect call).
/// </summary>
public interface IInspectorHost
{
    /// <summary>The inspector for the next frame; null when no model is installed.</summary>
    IInspector? Current { get; }

    /// <summary>Installs <paramref name="next"/> and returns the one it replaced (the caller disposes it).</summary>
    IInspector? Swap(IInspector? next);
}
