namespace EdgeInspect.Fleet.Protocol.Transfer;

/// <summary>The id rule for packages and commands (1-64 characters of [A-Za-z0-9._-]).</summary>
public static class TransferIds
{
    /// <summary>IDs go into topics and folder names: no '+', '#', '/' (MQTT 5 section 4.7) and no path tricks.</summary>
    public static bool IsValid(string? id) =>
        id is { Length: > 0 and <= 64 } && id != "." && id != ".." &&
        id.All(c => c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '.' or '_' or '-');
}
