namespace EdgeInspect.Fleet.Protocol.Topics;

/// <summary>
/// Builds topics under <c>&lt;prefix&gt;/&lt;device&gt;/...</c> (ARCHITECTURE.md, "MQTT").
/// IDs that go into a topic are validated: an id holding <c>+</c> or <c>#</c> would turn a publish topic
/// into a wildcard (illegal in PUBLISH, [MQTT-3.3.2-2]), a <c>/</c> would let one device write into another's
/// subtree, an empty level or a NUL character is not a valid UTF-8 topic name ([MQTT-4.7.3-1], [MQTT-4.7.3-2]).
/// </summary>
public sealed class MqttTopics
{
    public MqttTopics(string prefix, string deviceId)
    {
        ValidatePrefix(prefix);
        ValidateId(deviceId, "deviceId");
        Prefix = prefix;
        DeviceId = deviceId;
        DeviceRoot = $"{prefix}/{deviceId}";
    }

    public string Prefix { get; }
    public string DeviceId { get; }

    /// <summary><c>&lt;prefix&gt;/&lt;device&gt;</c>.</summary>
    public string DeviceRoot { get; }

    /// <summary>Retained birth / last-will death.</summary>
    public string Status => DeviceRoot + "/status";
    public string Records => DeviceRoot + "/records";
    public string Telemetry => DeviceRoot + "/telemetry";
    public string Events => DeviceRoot + "/events";

    /// <summary>The cloud ingest's acknowledgements of this device's records (<c>IngestAck</c> JSON), which the outbox waits for.</summary>
    public string Ack => DeviceRoot + "/ack";

    /// <summary>Part-image chunks from the device to the cloud ingest (<c>ImageChunk</c>, binary).</summary>
    public string Images => DeviceRoot + "/images";

    /// <summary>The ingest's answers to part-image chunks (<c>ImageAck</c> JSON): how far it has an image, or that it is stored.</summary>
    public string ImageAck => DeviceRoot + "/images/ack";

    /// <summary><c>&lt;prefix&gt;/&lt;device&gt;/cmd/&lt;name&gt;</c>; the name is validated like an id.</summary>
    public string Command(string name)
    {
        ValidateId(name, "command name");
        return DeviceRoot + "/cmd/" + name;
    }

    /// <summary>
    /// A device-relative topic or filter: <paramref name="relative"/> is appended under the device root
    /// ("cmd/+", "model/offer"). Wildcards are allowed here only because it may be a subscription filter;
    /// each level is still checked for emptiness.
    /// </summary>
    public string Under(string relative)
    {
        if (string.IsNullOrEmpty(relative) || relative.StartsWith('/') || relative.EndsWith('/') || relative.Contains("//", StringComparison.Ordinal))
        {
            throw new ArgumentException($"relative topic '{relative}' must be non-empty levels separated by '/'", nameof(relative));
        }
        return DeviceRoot + "/" + relative;
    }

    /// <summary>True when <paramref name="id"/> may be used as one topic level.</summary>
    public static bool IsValidId(string? id) =>
        !string.IsNullOrEmpty(id) && id.Length <= 128 && id.IndexOfAny(['+', '#', '/', '\0']) < 0 && !id.Any(char.IsControl) && !HasLoneSurrogate(id);

    /// <summary>
    /// Whether <paramref name="text"/> holds a UTF-16 surrogate that is not half of a pair: such a string has no UTF-8
    /// form, and a topic's UTF-8 must not encode surrogates [MQTT-1.5.4-1].
    /// </summary>
    public static bool HasLoneSurrogate(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
            else if (char.IsSurrogate(text[i])) return true;
        }
        return false;
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming <paramref name="what"/> when the id is not a valid topic level.</summary>
    public static void ValidateId(string? id, string what)
    {
        if (!IsValidId(id))
        {
            throw new ArgumentException($"{what} '{id}' is not a valid MQTT topic level (non-empty, at most 128 chars, no '+', '#', '/', control characters)");
        }
    }

    private static void ValidatePrefix(string prefix)
    {
        if (string.IsNullOrEmpty(prefix)) throw new ArgumentException("topic prefix must not be empty");
        foreach (var level in prefix.Split('/'))
        {
            ValidateId(level, "topic prefix level");
        }
    }

    /// <summary>MQTT topic filter matching ([MQTT-4.7.1]): '+' one level, '#' the rest (including the parent).</summary>
    public static bool Matches(string filter, string topic)
    {
        var f = filter.Split('/');
        var t = topic.Split('/');
        for (var i = 0; i < f.Length; i++)
        {
            if (f[i] == "#") return true;
            if (i >= t.Length) return false;
            if (f[i] != "+" && f[i] != t[i]) return false;
        }
        return f.Length == t.Length;
    }
}
