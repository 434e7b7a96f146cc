using System.Text.Json;
using EdgeInspect.Fleet.Protocol.Commands;

namespace EdgeInspect.Station.Fleet.Commands;

/// <summary>Typed access to command arguments that turns every problem into a CommandErrors.BadArgs reply.</summary>
public static class CommandArgs
{
    /// <summary>A non-empty string argument of at most <paramref name="maxLength"/> characters.</summary>
    public static string RequiredString(this CommandContext c, string name, int maxLength = 256)
    {
        if (!c.Args.TryGetProperty(name, out var v) || v.ValueKind != JsonValueKind.String || v.GetString() is not { Length: > 0 } s)
            throw new CommandException(CommandErrors.BadArgs, $"{c.Name}: args.{name} is required (a non-empty string)");
        if (s.Length > maxLength) throw new CommandException(CommandErrors.BadArgs, $"{c.Name}: args.{name} is longer than {maxLength}");
        return s;
    }

    /// <summary>A string argument, null when absent or null.</summary>
    public static string? OptionalString(this CommandContext c, string name, int maxLength = 256)
    {
        if (!c.Args.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.String) throw new CommandException(CommandErrors.BadArgs, $"{c.Name}: args.{name} must be a string");
        var s = v.GetString()!;
        if (s.Length > maxLength) throw new CommandException(CommandErrors.BadArgs, $"{c.Name}: args.{name} is longer than {maxLength}");
        return s;
    }

    /// <summary>A true / false argument, false when absent or null.</summary>
    public static bool OptionalBool(this CommandContext c, string name)
    {
        if (!c.Args.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return false;
        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new CommandException(CommandErrors.BadArgs, $"{c.Name}: args.{name} must be true or false"),
        };
    }
}
