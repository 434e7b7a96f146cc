namespace EdgeInspect.Core.Inference;

/// <summary>
/// The one parser of execution-provider lists ("tensorrt,cuda,cpu"), for every verb's --providers and the
/// station profile's Model:Providers: names are trimmed and lower-cased, and an unknown, empty or repeated name
/// is refused with a message naming it.
/// </summary>
public static class ExecutionProviders
{
    /// <summary>The providers this runtime knows, fastest first.</summary>
    public static readonly IReadOnlyList<string> Known = ["tensorrt", "cuda", "cpu"];

    /// <summary>Parses a comma-separated list in preference order; throws <see cref="ArgumentException"/> naming the bad entry.</summary>
    public static IReadOnlyList<string> Parse(string text)
    {
        if (TryParse(text, out var providers, out var error)) return providers;
        throw new ArgumentException(error);
    }

    /// <summary>Parses a comma-separated list; on failure <paramref name="error"/> says why (without the option's name).</summary>
    public static bool TryParse(string? text, out IReadOnlyList<string> providers, out string error)
    {
        providers = [];
        if (string.IsNullOrWhiteSpace(text))
        {
            error = $"needs at least one execution provider ({string.Join(", ", Known)})";
            return false;
        }
        var names = text.Split(',').Select(p => p.Trim().ToLowerInvariant()).ToList();
        if (Problem(names) is { } problem)
        {
            error = problem;
            return false;
        }
        providers = names;
        error = "";
        return true;
    }

    /// <summary>Null when <paramref name="names"/> is a usable preference list, else why not (a profile's list, already split).</summary>
    public static string? Problem(IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(names);
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var name in names)
        {
            if (string.IsNullOrWhiteSpace(name)) return "an execution provider name is empty";
            if (!Known.Contains(name.Trim(), StringComparer.OrdinalIgnoreCase))
                return $"unknown execution provider '{name.Trim()}' (known: {string.Join(", ", Known)})";
            if (!seen.Add(name.Trim())) return $"execution provider '{name.Trim()}' is listed twice";
        }
        return seen.Count == 0 ? $"needs at least one execution provider ({string.Join(", ", Known)})" : null;
    }
}
