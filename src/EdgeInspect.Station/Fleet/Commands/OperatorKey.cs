using System.Security.Cryptography;
using EdgeInspect.Fleet.Protocol.Commands;

namespace EdgeInspect.Station.Fleet.Commands;

/// <summary>An operator's public key as the device holds it: its id, its role and an optional configured name.</summary>
public sealed class OperatorKey(string keyId, OperatorRole role, string? name, ECDsa publicKey)
{
    /// <summary>The prefix of every verified actor in the audit; what follows is the full key id.</summary>
    public const string ActorPrefix = "key:";

    /// <summary>Lower-case hex SHA-256 of the public key (<see cref="EdgeInspect.Fleet.Protocol.Signing.PackageKeys.KeyId"/>).</summary>
    public string KeyId { get; } = keyId;

    /// <summary>What the key may do.</summary>
    public OperatorRole Role { get; } = role;

    /// <summary>The configured label, if any.</summary>
    public string? Name { get; } = name;

    /// <summary>The public key that verifies the key's signatures.</summary>
    public ECDsa PublicKey { get; } = publicKey;

    /// <summary>
    /// Who the audit says acted: <c>key:&lt;key id&gt;</c>, plus the configured name in parentheses. Built only from the
    /// device's own config, never from text in the command.
    /// </summary>
    public string Actor => Name is null ? ActorPrefix + KeyId : $"{ActorPrefix}{KeyId} ({Name})";

    /// <summary>The key id inside an actor written by <see cref="Actor"/>; null for any other actor.</summary>
    public static string? KeyIdOf(string actor) =>
        actor.StartsWith(ActorPrefix, StringComparison.Ordinal) && actor.Length >= ActorPrefix.Length + 64
            ? actor.Substring(ActorPrefix.Length, 64)
            : null;
}
