using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Geometry;

namespace EdgeInspect.Station.VirtualLine;

/// <summary>The defect classes the virtual line renders; the names are the class names of the training data.</summary>
public static class DefectClasses
{
    public const string Ok = "ok";
    public const string Scratch = "scratch";
    public const string Dent = "dent";
    public const string Pit = "pit";
    public const string Discoloration = "discoloration";

    public static IReadOnlyList<string> All { get; } = [Scratch, Dent, Pit, Discoloration];
}

/// <summary>One rendered defect: its class and its box in image pixels (X2/Y2 exclusive).</summary>
public sealed record DefectTruth(string ClassName, BoxF Box);

/// <summary>
/// Ground truth for one rendered part. Carried on <see cref="Core.Imaging.Frame.GroundTruth"/> so tests and the
/// simulated inspector can score model and human on the same parts; decisions never read it.
/// </summary>
public sealed class PartTruth
{
    public PartTruth(long index, string partId, IReadOnlyList<DefectTruth> defects, BoxF plate)
    {
        Index = index;
        PartId = partId;
        Defects = defects;
        Plate = plate;
    }

    public long Index { get; }
    public string PartId { get; }
    public IReadOnlyList<DefectTruth> Defects { get; }
    /// <summary>Where the plate lies in the frame.</summary>
    public BoxF Plate { get; }

    public Verdict Verdict => Defects.Count > 0 ? Verdict.Ng : Verdict.Ok;

    /// <summary>"ok", or the class of the largest defect (the part-level class used for per-class statistics).</summary>
    public string PartClass
    {
        get
        {
            if (Defects.Count == 0) return DefectClasses.Ok;
            var best = Defects[0];
            foreach (var d in Defects)
            {
                if (d.Box.Width * d.Box.Height > best.Box.Width * best.Box.Height) best = d;
            }
            return best.ClassName;
        }
    }
}
