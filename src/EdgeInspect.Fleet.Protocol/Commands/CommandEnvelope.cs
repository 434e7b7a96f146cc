using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace EdgeInspect.Fleet.Protocol.Commands;

/// <summary>
/// The command envelope, a UTF-8 JSON object:
/// <c>{"id": "...", "expiresAt": "&lt;ISO 8601&gt;", "actor": "who", "args": {...}}</c>. The device refuses any other
/// field, so both sides build it from these names.
/// </summary>
public static class CommandEnvelope
{
    /// <summary>Field: the command id, 1-64 characters of [A-Za-z0-9._-]; remembered by the device against replay.</summary>
    public const string Id = "id";

    /// <summary>Field: ISO 8601 date-time after which the device refuses the command.</summary>
    public const string ExpiresAt = "expiresAt";

    /// <summary>Field: who sent it (at most 128 characters); audited with every change the command makes.</summary>
    public const string Actor = "actor";

    /// <summary>Field: the command's arguments, an object.</summary>
    public const string Args = "args";

    /// <summary>The envelope as JSON bytes.</summary>
    public static byte[] ToBytes(string id, DateTimeOffset expiresAt, string actor, JsonObject? args) =>
        JsonSerializer.SerializeToUtf8Bytes(new JsonObject
        {
            [Id] = id,
            [ExpiresAt] = expiresAt.ToString("O", CultureInfo.InvariantCulture),
            [Actor] = actor,
            [Args] = args ?? [],
        });
}
