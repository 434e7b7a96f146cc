using System.Globalization;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Inspection;
using EdgeInspect.Core.Packages;

namespace EdgeInspect.Core.Evaluation;

/// <summary>One labelled part with every region the cascade found down to the search's lowest threshold.</summary>
public sealed record ScoredPart(LabelledImage Truth, IReadOnlyList<Region> Regions);

/// <summary>The part outcomes of one setting of the decision's region threshold.</summary>
/// <param name="MinRegionScore">The detector score a region needs to count toward the verdict.</param>
public sealed record OperatingPoint(float MinRegionScore, PartOutcomes Outcomes);

/// <summary>Which rate a tuning minimises and which one it holds under a ceiling.</summary>
public enum TuningTarget
{
    /// <summary>The lowest escape rate whose false-reject rate is at most the ceiling.</summary>
    LowestEscape,

    /// <summary>The lowest false-reject rate whose escape rate is at most the ceiling.</summary>
    LowestFalseReject,
}

/// <summary>A tuning goal: minimise one rate with the other at most <paramref name="Ceiling"/> (0..1).</summary>
public sealed record TuningGoal(TuningTarget Target, double Ceiling);

/// <summary>A goal no point of the table can meet, or cannot be measured on the data; the message says which and why.</summary>
public sealed class TuningException(string message) : Exception(message);

/// <summary>
/// Chooses the decision's region threshold (<see cref="DecisionSpec.MinRegionScore"/>) for a line's goal. The cascade
/// runs once per part with its last stage down to the grid's lowest value; each grid value then re-decides every part
/// with the package's own <see cref="DecisionPolicy"/>, so a row is what the package would do at that threshold
/// (a greedy NMS never lets a lower-scored box remove a higher one, so lowering the last stage only adds boxes below
/// the old threshold). Pure: no IO.
/// </summary>
public static class OperatingPointSearch
{
    /// <summary>The default grid: 0.05 to 0.95 by 0.05, then 0.97 and 0.99, where a confident detector's scores crowd.</summary>
    public static IReadOnlyList<float> DefaultGrid { get; } =
        [.. Enumerable.Range(1, 19).Select(i => MathF.Round(i * 0.05f, 2)), 0.97f, 0.99f];

    /// <summary>The part outcomes at every grid value (ascending), deciding each part with <paramref name="decision"/>'s rules.</summary>
    public static IReadOnlyList<OperatingPoint> Sweep(IReadOnlyList<ScoredPart> parts, DecisionSpec decision, IReadOnlyList<string> classes,
        float wholeImageWeight, IEnumerable<float> grid)
    {
        ArgumentNullException.ThrowIfNull(parts);
        ArgumentNullException.ThrowIfNull(decision);
        var rows = new List<OperatingPoint>();
        foreach (float t in grid.Distinct().Order())
        {
            var spec = new DecisionSpec
            {
                NgClasses = decision.NgClasses,
                MinRegionScore = t,
                ActThresholds = decision.ActThresholds,
                DefaultActThreshold = decision.DefaultActThreshold,
            };
            var policy = new DecisionPolicy(spec, classes, wholeImageWeight);
            var counter = new PartOutcomeCounter();
            foreach (var part in parts) counter.Add(part.Truth.PartClass, policy.Decide(part.Regions).Verdict == Verdict.Ng);
            rows.Add(new OperatingPoint(t, counter.Outcomes(classes)));
        }
        return rows;
    }

    /// <summary>Throws <see cref="TuningException"/> unless the data has both kinds of part: each rate needs its own.</summary>
    public static void CheckMeasurable(int ngParts, int okParts)
    {
        if (okParts == 0)
            throw new TuningException($"the data has no OK parts, so no false-reject rate can be measured; a line's operating point needs good parts in the split ({ngParts} NG parts)");
        if (ngParts == 0)
            throw new TuningException($"the data has no NG parts, so no escape rate can be measured; a line's operating point needs defective parts in the split ({okParts} OK parts)");
    }

    /// <summary>
    /// The row that meets <paramref name="goal"/>: the lowest minimised rate among rows whose other rate is at most the
    /// ceiling; ties go to the lower other rate, then to the higher threshold (fewer regions counted for the same outcome).
    /// Throws <see cref="TuningException"/> when the data cannot measure the goal or no row meets it.
    /// </summary>
    public static OperatingPoint Choose(IReadOnlyList<OperatingPoint> table, TuningGoal goal)
    {
        ArgumentNullException.ThrowIfNull(table);
        ArgumentNullException.ThrowIfNull(goal);
        if (table.Count == 0) throw new TuningException("no threshold to choose from: the grid is empty");
        var ci = CultureInfo.InvariantCulture;
        bool escapeFirst = goal.Target == TuningTarget.LowestEscape;
        Proportion Held(OperatingPoint p) => escapeFirst ? p.Outcomes.FalseReject : p.Outcomes.Escape;
        Proportion Minimised(OperatingPoint p) => escapeFirst ? p.Outcomes.Escape : p.Outcomes.FalseReject;
        string held = escapeFirst ? "false-reject" : "escape";
        CheckMeasurable(table[0].Outcomes.Escape.Of, table[0].Outcomes.FalseReject.Of);
        var meeting = table.Where(p => Held(p).Rate <= goal.Ceiling).ToList();
        if (meeting.Count == 0)
        {
            var lowest = table.OrderBy(p => Held(p).Rate).First();
            throw new TuningException(string.Create(ci,
                $"no threshold in the grid keeps the {held} rate at or below {goal.Ceiling * 100:0.0} % (lowest: {Held(lowest).ToText()} at {lowest.MinRegionScore:0.###})"));
        }
        return meeting.OrderBy(p => Minimised(p).Rate).ThenBy(p => Held(p).Rate).ThenByDescending(p => p.MinRegionScore).First();
    }
}
