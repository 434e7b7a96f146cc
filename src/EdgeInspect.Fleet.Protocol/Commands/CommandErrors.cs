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

    /// <summary>No signature: the envelope lacks keyId, signature or signed (an unsigned command is never run).</summary>
    public const string Unsigned = "unsigned";

    /// <summary>Signed by a key the device's <c>Fleet:Operators</c> does not list.</summary>
    public const string UnknownKey = "unknown-key";

    /// <summary>Signed by a key the device has revoked (<c>Fleet:RevokedKeys</c> or a <c>revoke-key</c> command).</summary>
    public const string RevokedKey = "revoked-key";

    /// <summary>The signature does not verify over the signed statement with the named key, or is not ES256 base64.</summary>
    public const string BadSignature = "bad-signature";

    /// <summary>The signed statement names another device, or another command than the topic it arrived on.</summary>
    public const string WrongDevice = "wrong-device";

    /// <summary>The key's role does not allow this command, or <c>force</c> without the override role.</summary>
    public const string Forbidden = "forbidden";

    /// <summary><c>force</c> by an override key on a device whose profile has <c>Fleet:AllowRemoteOverride</c> off.</summary>
    public const string OverrideDisabled = "override-disabled";

    /// <summary>A remote mode change above the position of the station's key switch (local authority wins).</summary>
    public const string AboveKeySwitch = "above-key-switch";

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
