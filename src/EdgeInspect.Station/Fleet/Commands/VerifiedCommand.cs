using System.Text.Json;
using EdgeInspect.Fleet.Protocol.Commands;

namespace EdgeInspect.Station.Fleet.Commands;

/// <summary>
/// A command after <see cref="CommandVerifier"/>: either a refusal (with whatever key id it claimed, for the audit) or
/// the signed statement of a listed operator key. Built without IO, so the receive path can route it by key.
/// </summary>
public sealed class VerifiedCommand
{
    /// <summary>The command name from the topic (a placeholder when the topic level is not a valid name).</summary>
    public required string Name { get; init; }

    /// <summary>Set when the command is refused before any handler: the reply to send.</summary>
    public CommandReply? Refusal { get; init; }

    /// <summary>The verified operator key; null when the signature did not verify.</summary>
    public OperatorKey? Operator { get; init; }

    /// <summary>The key id the envelope claimed when it did not verify (64 hex characters, else null).</summary>
    public string? ClaimedKeyId { get; init; }

    /// <summary>The signed command id.</summary>
    public string? Id { get; init; }

    /// <summary>When the operator signed it.</summary>
    public DateTimeOffset IssuedAt { get; init; }

    /// <summary>When it expires.</summary>
    public DateTimeOffset ExpiresAt { get; init; }

    /// <summary>The signed arguments (an object).</summary>
    public JsonElement Args { get; init; }

    /// <summary>
    /// Who the audit names: the verified key's actor; for a refusal, <c>unverified:key:&lt;id&gt;</c> when a well-formed
    /// key id was claimed, else <c>anonymous</c>. Never free text from the sender.
    /// </summary>
    public string Actor => Operator?.Actor ?? (ClaimedKeyId is { } k ? "unverified:" + OperatorKey.ActorPrefix + k : "anonymous");

    /// <summary>A refusal of a command from <paramref name="name"/>'s topic.</summary>
    public static VerifiedCommand Refused(string name, string? id, string error, string reason, OperatorKey? key = null, string? claimed = null) =>
        new() { Name = name, Id = id, Operator = key, ClaimedKeyId = claimed, Refusal = CommandReply.Fail(id, error, reason) };
}
