using System.Text.Json;
using System.Text.Json.Serialization;

namespace EdgeInspect.Fleet.Protocol.Images;

/// <summary>
/// The ingest's answer to a part-image chunk, on <c>&lt;prefix&gt;/&lt;device&gt;/images/ack</c>:
/// <c>{"id":"e-12","next":3,"done":false}</c>. <see cref="Next"/> is the first chunk the ingest does not have on its
/// disk, so a device that restarted (or whose chunk was lost) resumes there; <see cref="Done"/> means the image is
/// stored and in the database: only then may the device delete it. <see cref="Refused"/> says why a chunk was not
/// taken (the device starts again from <see cref="Next"/>).
/// </summary>
/// <param name="Id">The image's id (<see cref="ImageChunk.Id"/>).</param>
/// <param name="Next">The first chunk the ingest still needs.</param>
/// <param name="Done">The image is stored and recorded.</param>
/// <param name="Refused">Why the last chunk was not taken, or null.</param>
public sealed record ImageAck(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("next")] int Next,
    [property: JsonPropertyName("done")] bool Done,
    [property: JsonPropertyName("refused")] string? Refused = null)
{
    /// <summary>A payload over this size is not an ack this protocol writes; it is refused before parsing.</summary>
    public const int MaxPayloadBytes = 4096;

    /// <summary>The wire form.</summary>
    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this);

    /// <summary>Parses an ack; null with <paramref name="problem"/> set when it is not one.</summary>
    public static ImageAck? TryParse(ReadOnlySpan<byte> json, out string? problem)
    {
        problem = null;
        if (json.Length > MaxPayloadBytes) { problem = $"{json.Length} bytes > {MaxPayloadBytes}"; return null; }
        ImageAck? ack;
        try { ack = JsonSerializer.Deserialize<ImageAck>(json); }
        catch (JsonException e) { problem = "not JSON: " + e.Message; return null; }
        if (ack?.Id is null || ack.Next < 0) { problem = "id and a non-negative next are required"; return null; }
        return ack;
    }
}
