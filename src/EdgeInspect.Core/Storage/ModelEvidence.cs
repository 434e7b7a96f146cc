using EdgeInspect.Core.Domain;

namespace EdgeInspect.Core.Storage;

/// <summary>
/// The automation gate's evidence for one model (name and version): parts with both a human and a model verdict, and
/// how many of them agreed. Kept per model because a verdict agreement measured on one model says nothing about another.
/// </summary>
public sealed class ModelEvidence
{
    /// <summary>
    /// Models a list keeps. Each is one small entry in the state document the store rewrites with every commit, so the
    /// list is bounded; the model least recently counted goes first (the active model is counted with every paired part).
    /// </summary>
    public const int MaxModels = 16;

    /// <summary>The model's name (manifest name).</summary>
    public string Model { get; set; } = "";

    /// <summary>The model's version.</summary>
    public string Version { get; set; } = "";

    /// <summary>Parts with a human and a model verdict.</summary>
    public long Paired { get; set; }

    /// <summary>Of <see cref="Paired"/>, those that agreed.</summary>
    public long Agreed { get; set; }

    /// <summary>The store's sequence high-water mark when this entry last grew (orders the entries for pruning).</summary>
    public long LastSequence { get; set; }

    /// <summary>True when this entry is for <paramref name="model"/> at <paramref name="version"/>.</summary>
    public bool Is(string? model, string? version) =>
        string.Equals(Model, model ?? "", StringComparison.Ordinal) && string.Equals(Version, version ?? "", StringComparison.Ordinal);

    /// <summary>The entry for the model in <paramref name="list"/>, or null.</summary>
    public static ModelEvidence? Find(List<ModelEvidence> list, string? model, string? version)
    {
        ArgumentNullException.ThrowIfNull(list);
        foreach (var e in list)
        {
            if (e.Is(model, version)) return e;
        }
        return null;
    }

    /// <summary>
    /// Adds <paramref name="paired"/> parts (<paramref name="agreed"/> of them in agreement) to the model's entry,
    /// creating it (and dropping the least recently counted entry past <see cref="MaxModels"/>) when it is new.
    /// </summary>
    public static void Add(List<ModelEvidence> list, string? model, string? version, long paired, long agreed, long sequence)
    {
        ArgumentNullException.ThrowIfNull(list);
        var entry = Find(list, model, version);
        if (entry is null)
        {
            entry = new ModelEvidence { Model = model ?? "", Version = version ?? "" };
            list.Add(entry);
            if (list.Count > MaxModels)
            {
                ModelEvidence? oldest = null;
                foreach (var e in list)
                {
                    if (e != entry && (oldest is null || e.LastSequence < oldest.LastSequence)) oldest = e;
                }
                list.Remove(oldest!);
            }
        }
        entry.Paired += paired;
        entry.Agreed += agreed;
        entry.LastSequence = Math.Max(entry.LastSequence, sequence);
    }

    /// <summary>Counts one stored record into <paramref name="list"/> when it is paired (both verdicts); false when it is not.</summary>
    public static bool Count(List<ModelEvidence> list, InspectionRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record.Agreement is not { } agreed) return false;
        Add(list, record.ModelName, record.ModelVersion, 1, agreed ? 1 : 0, record.Sequence);
        return true;
    }

    /// <summary>A deep copy of a list.</summary>
    public static List<ModelEvidence> Copy(List<ModelEvidence> list) =>
        [.. list.Select(e => new ModelEvidence { Model = e.Model, Version = e.Version, Paired = e.Paired, Agreed = e.Agreed, LastSequence = e.LastSequence })];
}
