namespace EdgeInspect.Core.Domain;

/// <summary>Degrees of automation, ordered from least to most automated (see ARCHITECTURE.md).</summary>
public enum AutomationMode
{
    Human = 0,
    Shadow = 1,
    Assist = 2,
    Partial = 3,
    Full = 4,
}

public static class AutomationModes
{
    public static string ToWire(this AutomationMode mode) => mode.ToString().ToLowerInvariant();

    public static bool TryParse(string? text, out AutomationMode mode)
    {
        mode = default;
        return text is not null
            && Enum.TryParse(text, ignoreCase: true, out mode)
            && Enum.IsDefined(mode)
            && !int.TryParse(text, out _);
    }
}
