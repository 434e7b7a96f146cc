namespace EdgeInspect.Station.Capture;

/// <summary>
/// Why a part's image is kept. The values are the eviction order when the image folder is full: a random sample of
/// agreed parts goes first, a disagreement with the inspector last (the part a retraining needs most).
/// </summary>
public enum CaptureReason
{
    /// <summary>A random sample of parts where nothing was wrong (<see cref="CaptureOptions.AgreedSampleRate"/>).</summary>
    Sample = 0,
    /// <summary>The model's confidence was below <see cref="CaptureOptions.LowConfidenceBelow"/>.</summary>
    LowConfidence = 1,
    /// <summary>The part was failed safe (no verdict, model fault, reject fault, store fault).</summary>
    FailSafe = 2,
    /// <summary>The human and the model gave different verdicts.</summary>
    Disagreement = 3,
}
