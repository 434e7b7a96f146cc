namespace EdgeInspect.Station.VirtualLine;

/// <summary>Options of the rendered scene.</summary>
public sealed record PartRendererOptions
{
    public int Width { get; init; } = 320;
    public int Height { get; init; } = 240;
    /// <summary>Fraction of parts that carry at least one defect.</summary>
    public double DefectRate { get; init; } = 0.5;
    public int Seed { get; init; } = 1;

    public void Validate()
    {
        if (Width is < 160 or > 4096) throw new ArgumentOutOfRangeException(nameof(Width), Width, "width must be 160..4096");
        if (Height is < 120 or > 4096) throw new ArgumentOutOfRangeException(nameof(Height), Height, "height must be 120..4096");
        if (DefectRate is < 0 or > 1 || double.IsNaN(DefectRate))
            throw new ArgumentOutOfRangeException(nameof(DefectRate), DefectRate, "defect rate must be 0..1");
    }
}
