namespace EdgeInspect.Core.Domain;

/// <summary>The part-level outcome.</summary>
public enum Verdict
{
    Ok = 0,
    Ng = 1,
}

/// <summary>Who decided the verdict that was acted on.</summary>
public enum VerdictSource
{
    Model = 0,
    Human = 1,
    /// <summary>The part could not be inspected (overload, camera outage, model failure) and was failed safe as NG.</summary>
    FailSafe = 2,
}
