namespace EdgeInspect.Station.Pipeline;

/// <summary>The three hosted stages, as <see cref="PipelineHeartbeat"/> tracks them.</summary>
public enum PipelineStage
{
    /// <summary>Reading the source and handing frames on.</summary>
    Capture,

    /// <summary>Model, policy, actuation.</summary>
    Inspection,

    /// <summary>The durable group commit.</summary>
    Record,
}
