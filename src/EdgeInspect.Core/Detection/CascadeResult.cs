using EdgeInspect.Core.Geometry;

namespace EdgeInspect.Core.Detection;

/// <summary>One detected region: box (float, inclusive-corner convention), score, and where its landmarks are.</summary>
public readonly record struct Detection(BoxF Box, float Score, int LandmarkStart, int LandmarkCount);

/// <summary>A landmark point in image pixels.</summary>
public readonly record struct Landmark(float X, float Y);

/// <summary>Wall time of one stage, the part of it spent inside the network runs, and the boxes it left.</summary>
public readonly record struct StageTiming(string Name, double TotalMs, double ModelMs, int Boxes);

/// <summary>
/// What <see cref="CascadeDetector.Detect"/> found. Owned by the detector and overwritten by its next call
/// (so a warm detector allocates nothing); copy what you keep.
/// </summary>
public sealed class CascadeResult
{
    private Detection[] _detections = new Detection[16];
    private Landmark[] _landmarks = new Landmark[80];
    private readonly StageTiming[] _stages;
    private readonly double[] _scales;

    internal CascadeResult(int stageCount, double[] scales)
    {
        _stages = new StageTiming[stageCount];
        _scales = scales;
    }

    public int ImageWidth { get; internal set; }
    public int ImageHeight { get; internal set; }
    public int Count { get; private set; }
    public ReadOnlySpan<Detection> Detections => _detections.AsSpan(0, Count);
    public ReadOnlySpan<Landmark> LandmarksOf(in Detection d) => _landmarks.AsSpan(d.LandmarkStart, d.LandmarkCount);
    public ReadOnlySpan<StageTiming> Stages => _stages;
    public int ScaleCount { get; internal set; }
    /// <summary>The pyramid scales the first stage ran at.</summary>
    public ReadOnlySpan<double> Scales => _scales.AsSpan(0, ScaleCount);
    /// <summary>Whole cascade, from the first resize to the last NMS.</summary>
    public double TotalMs { get; internal set; }
    /// <summary>Time spent inside network runs only.</summary>
    public double ModelMs { get; internal set; }

    internal void SetStage(int index, StageTiming timing) => _stages[index] = timing;

    internal void Clear()
    {
        Count = 0;
        _landmarkCount = 0;
        for (int i = 0; i < _stages.Length; i++) _stages[i] = _stages[i] with { TotalMs = 0, ModelMs = 0, Boxes = 0 };
    }

    private int _landmarkCount;

    internal Span<Landmark> Add(BoxF box, float score, int landmarkCount)
    {
        if (Count == _detections.Length) Array.Resize(ref _detections, _detections.Length * 2);
        if (_landmarkCount + landmarkCount > _landmarks.Length) Array.Resize(ref _landmarks, Math.Max(_landmarks.Length * 2, _landmarkCount + landmarkCount));
        _detections[Count++] = new Detection(box, score, _landmarkCount, landmarkCount);
        var span = _landmarks.AsSpan(_landmarkCount, landmarkCount);
        _landmarkCount += landmarkCount;
        return span;
    }
}
