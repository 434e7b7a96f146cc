using System.Text.Json;
using System.Text.Json.Nodes;

namespace EdgeInspect.Fleet.Protocol.Commands;

/// <summary>The reply sent to the command's response topic with its correlation data.</summary>
public sealed record CommandReply(string? Id, bool Ok, string? Error, string? Reason, JsonNode? Result)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The reply as JSON (camelCase, null fields left out).</summary>
    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, Json);

    /// <summary>Reads a reply; throws <see cref="JsonException"/> on anything that is not one.</summary>
    public static CommandReply? Parse(ReadOnlySpan<byte> bytes) => JsonSerializer.Deserialize<CommandReply>(bytes, Json);

    /// <summary>A refusal with a code from <see cref="CommandErrors"/> (or a handler's own) and a one-line reason.</summary>
    public static CommandReply Fail(string? id, string error, string reason) => new(id, false, error, reason, null);
}
