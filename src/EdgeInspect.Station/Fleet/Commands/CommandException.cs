namespace EdgeInspect.Station.Fleet.Commands;

/// <summary>A handler's refusal with a stable code ("bad-args", "gate-not-met", ...) and a one-line reason.</summary>
public sealed class CommandException(string code, string message) : Exception(message)
{
    /// <summary>The code put in the reply's error field.</summary>
    public string Code { get; } = code;
}
