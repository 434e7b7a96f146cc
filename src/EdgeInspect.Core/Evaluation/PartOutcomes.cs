namespace EdgeInspect.Core.Evaluation;

/// <summary>
/// A part-level operating point in a line's terms. An escape is an NG part passed as OK (it goes on down the line);
/// a false reject is an OK part rejected (scrap or rework for nothing). Each rate counts parts (images), not boxes.
/// </summary>
/// <param name="Escape">NG parts passed as OK, of the NG parts.</param>
/// <param name="FalseReject">OK parts rejected, of the OK parts.</param>
/// <param name="CatchPerClass">Per labelled defect class: its parts called NG, of its parts (whatever class the model named).</param>
public sealed record PartOutcomes(Proportion Escape, Proportion FalseReject, IReadOnlyList<ClassCatch> CatchPerClass)
{
    /// <summary>Escape and false-reject lines, then the catch rate per defect class.</summary>
    public string ToText()
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine("escape rate (NG parts passed as OK):   " + Escape.ToText());
        sb.AppendLine("false-reject rate (OK parts rejected): " + FalseReject.ToText());
        if (CatchPerClass.Count > 0)
        {
            int w = Math.Max(8, CatchPerClass.Max(c => c.Class.Length) + 1);
            sb.AppendLine("catch rate by defect class (parts called NG):");
            foreach (var c in CatchPerClass) sb.AppendLine("  " + c.Class.PadRight(w) + c.Caught.ToText());
        }
        return sb.ToString();
    }
}

/// <summary>How many parts of one labelled defect class were called NG.</summary>
public sealed record ClassCatch(string Class, Proportion Caught);

/// <summary>Counts part outcomes one part at a time. Pure arithmetic.</summary>
public sealed class PartOutcomeCounter
{
    private readonly Dictionary<string, (int Parts, int Caught)> _byClass = new(StringComparer.Ordinal);
    private int _ng, _missed, _ok, _rejected;

    /// <summary>Counts one part: its labelled class (<see cref="LabelledImage.OkClass"/> or a defect class) and whether the model called it NG.</summary>
    public void Add(string truthClass, bool calledNg)
    {
        if (LabelledImage.IsOkClass(truthClass))
        {
            _ok++;
            if (calledNg) _rejected++;
            return;
        }
        _ng++;
        if (!calledNg) _missed++;
        var c = _byClass.GetValueOrDefault(truthClass);
        _byClass[truthClass] = (c.Parts + 1, c.Caught + (calledNg ? 1 : 0));
    }

    /// <param name="classOrder">Classes listed first in this order (the model's); others follow by name.</param>
    public PartOutcomes Outcomes(IReadOnlyList<string>? classOrder = null)
    {
        var order = classOrder?.ToList() ?? [];
        int Rank(string c) => order.IndexOf(c) is int i and >= 0 ? i : int.MaxValue;
        var perClass = _byClass.OrderBy(kv => Rank(kv.Key)).ThenBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => new ClassCatch(kv.Key, new Proportion(kv.Value.Caught, kv.Value.Parts))).ToList();
        return new PartOutcomes(new Proportion(_missed, _ng), new Proportion(_rejected, _ok), perClass);
    }
}
