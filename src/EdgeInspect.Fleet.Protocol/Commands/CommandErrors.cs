namespace EdgeInspect.Fleet.Protocol.Commands;

/// <summary>
/// The error codes a device puts in <see cref="CommandReply.Error"/>: stable strings the fleet tool and scripts match on.
/// The envelope checks come first, in the order the device runs them; handler refusals follow.
/// </summary>
public static class CommandErrors
{
    /// <summary>Payload over the device's limit, refused on its length before parsing.</summary>
    public const string TooLarge = "too-large";

    /// <summary>Not UTF-8 or not JSON.</summary>
    public const string Malformed = "malformed";

    /// <summary>JSON, but not a valid envelope (or offer / end message).</summary>
    public const string Schema = "schema";

    /// <summary>No handler by that name.</summary>
    public const string UnknownCommand = "unknown-command";

    /// <summary>Past its expiry (with the device's clock skew allowance).</summary>
    public const string Expired = "expired";

    /// <summary>An id the device has already seen inside its lifetime.</summary>
    public const string Replayed = "replayed";

    /// <summary>The queue or the replay cache is full; retry later.</summary>
    public const string Busy = "busy";

    /// <summary>A handler found an argument missing or of the wrong type.</summary>
    public const string BadArgs = "bad-args";

    /// <summary>A handler ran past the device's handler timeout.</summary>
    public const string Timeout = "timeout";

    /// <summary>A handler failed unexpectedly; the reason carries the exception's message.</summary>
    public const string Internal = "internal";

    /// <summary>The device declined the action (for example a mode change the gate does not allow).</summary>
    public const string Refused = "refused";

    /// <summary>The device cannot do it now (for example the status message could not be published).</summary>
    public const string Unavailable = "unavailable";
}
