namespace EdgeInspect.Core.Geometry;

/// <summary>An axis-aligned box in image pixels, corners inclusive as in the MTCNN reference code.</summary>
public readonly record struct BoxF(float X1, float Y1, float X2, float Y2)
{
    public float Width => X2 - X1;
    public float Height => Y2 - Y1;

    /// <summary>Area with the +1 pixel convention of the MTCNN reference NMS (inclusive corners).</summary>
    public float AreaInclusive => (X2 - X1 + 1) * (Y2 - Y1 + 1);

    /// <summary>Plain intersection over union with exclusive corners, as used for evaluation (VOC style).</summary>
    public static float IoU(in BoxF a, in BoxF b)
    {
        float ix = MathF.Max(0, MathF.Min(a.X2, b.X2) - MathF.Max(a.X1, b.X1));
        float iy = MathF.Max(0, MathF.Min(a.Y2, b.Y2) - MathF.Max(a.Y1, b.Y1));
        float inter = ix * iy;
        float union = (a.Width * a.Height) + (b.Width * b.Height) - inter;
        return union <= 0 ? 0 : inter / union;
    }
}
