using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Fleet.Protocol.Transfer;

namespace EdgeInspect.Station.Fleet.Commands;

/// <summary>
/// Checks a command envelope (<see cref="CommandEnvelope"/>) without IO, in order: size (before parsing), UTF-8, JSON,
/// signed at all (<c>unsigned</c>), key listed (<c>unknown-key</c>), not revoked (<c>revoked-key</c>), signature (<c>bad-signature</c>), then the signed
/// statement's schema and that it names this device and the topic's command (<c>wrong-device</c>). Nothing in the
/// statement is read before the signature holds. Thread-safe.
/// </summary>
public sealed class CommandVerifier(CommandSecurity security, int maxPayloadBytes)
{
    private static readonly JsonDocumentOptions DocOptions = new() { MaxDepth = 16, AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Disallow };
    private static readonly JsonElement EmptyArgs = JsonDocument.Parse("{}").RootElement.Clone();

    /// <summary>Placeholder name audited for a topic level that is not a valid command name.</summary>
    public const string InvalidName = "(invalid)";

    /// <summary>Verifies one payload received on <c>cmd/&lt;name&gt;</c>; never throws for anything in the payload.</summary>
    public VerifiedCommand Verify(string name, ReadOnlyMemory<byte> payload)
    {
        if (!TransferIds.IsValid(name)) name = InvalidName;
        if (payload.Length > maxPayloadBytes)
            return VerifiedCommand.Refused(name, null, CommandErrors.TooLarge, $"payload of {payload.Length} bytes is over the limit of {maxPayloadBytes}");
        // JsonDocument transcodes strings lazily, so invalid UTF-8 inside a string would surface later as an
        // InvalidOperationException; checking up front keeps this one clear answer (RFC 8259 section 8.1).
        if (!System.Text.Unicode.Utf8.IsValid(payload.Span))
            return VerifiedCommand.Refused(name, null, CommandErrors.Malformed, "payload is not valid UTF-8");
        string? keyId = null, signature = null, signed = null, unknown = null;
        try
        {
            using var doc = JsonDocument.Parse(payload, DocOptions);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                return VerifiedCommand.Refused(name, null, CommandErrors.Schema, $"payload must be a JSON object, got {root.ValueKind}");
            foreach (var p in root.EnumerateObject())
            {
                var text = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString() : null;
                switch (p.Name)
                {
                    case CommandEnvelope.KeyId: keyId = text; break;
                    case CommandEnvelope.Signature: signature = text; break;
                    case CommandEnvelope.Signed: signed = text; break;
                    default: unknown ??= p.Name; break;
                }
            }
        }
        catch (JsonException ex)
        {
            return VerifiedCommand.Refused(name, null, CommandErrors.Malformed, $"payload is not JSON ({FirstLine(ex.Message)})");
        }
        if (keyId is null || signature is null || signed is null)
            return VerifiedCommand.Refused(name, null, CommandErrors.Unsigned,
                $"commands must be signed: {CommandEnvelope.KeyId}, {CommandEnvelope.Signature} and {CommandEnvelope.Signed} are required (strings)");
        if (unknown is not null) return VerifiedCommand.Refused(name, null, CommandErrors.Schema, $"unknown field '{Truncate(unknown, 40)}'");
        var claimed = IsKeyId(keyId) ? keyId : null;
        if (claimed is null || !security.Operators.TryGet(claimed, out var op))
            return VerifiedCommand.Refused(name, null, CommandErrors.UnknownKey,
                claimed is null ? "keyId must be 64 lower-case hex characters" : $"key {claimed[..16]} is not an operator key of this device", claimed: claimed);
        if (security.Revoked?.IsRevoked(claimed) == true)
            return VerifiedCommand.Refused(name, null, CommandErrors.RevokedKey, $"key {claimed[..16]} is revoked on this device", claimed: claimed);

        var raw = new byte[64];
        var statement = Encoding.UTF8.GetBytes(signed);
        if (!Convert.TryFromBase64String(signature, raw, out var n) || n != 64
            || !op.PublicKey.VerifyData(statement, raw, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
            return VerifiedCommand.Refused(name, null, CommandErrors.BadSignature, $"signature by key {claimed[..16]} does not verify (ES256 over the signed statement)", claimed: claimed);
        return ReadStatement(name, statement, op);
    }

    /// <summary>
    /// The listed operator key an envelope claims to be signed by, or null, found by a forward-only scan of the top
    /// level with nothing verified: cheap enough for the MQTT receive path, where it only chooses the queue. A forged
    /// claim is refused in that queue at verification, as <c>bad-signature</c>.
    /// </summary>
    public string? ClaimedKey(ReadOnlySpan<byte> payload)
    {
        if (payload.Length > maxPayloadBytes) return null;
        try
        {
            var reader = new Utf8JsonReader(payload, new JsonReaderOptions { MaxDepth = DocOptions.MaxDepth });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isKey = reader.ValueTextEquals(CommandEnvelope.KeyId);
                if (!reader.Read()) return null;
                if (isKey)
                {
                    return reader.TokenType == JsonTokenType.String && reader.GetString() is { } k && IsKeyId(k) && security.Operators.TryGet(k, out _)
                        ? k
                        : null;
                }
                reader.Skip();
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
        }
        return null;
    }

    private VerifiedCommand ReadStatement(string name, byte[] statement, OperatorKey op)
    {
        string? device = null, command = null, id = null;
        DateTimeOffset? issued = null, expires = null;
        var args = EmptyArgs;
        try
        {
            using var doc = JsonDocument.Parse(statement, DocOptions);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) return Schema("the signed statement must be a JSON object");
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                var v = p.Value;
                switch (p.Name)
                {
                    case CommandEnvelope.Device when v.ValueKind == JsonValueKind.String: device = v.GetString(); break;
                    case CommandEnvelope.Command when v.ValueKind == JsonValueKind.String: command = v.GetString(); break;
                    case CommandEnvelope.Id when v.ValueKind == JsonValueKind.String: id = v.GetString(); break;
                    case CommandEnvelope.IssuedAt when v.ValueKind == JsonValueKind.String && v.TryGetDateTimeOffset(out var i): issued = i; break;
                    case CommandEnvelope.ExpiresAt when v.ValueKind == JsonValueKind.String && v.TryGetDateTimeOffset(out var e): expires = e; break;
                    case CommandEnvelope.Args when v.ValueKind == JsonValueKind.Object: args = v.Clone(); break;
                    case CommandEnvelope.Device or CommandEnvelope.Command or CommandEnvelope.Id or CommandEnvelope.IssuedAt
                        or CommandEnvelope.ExpiresAt or CommandEnvelope.Args:
                        return Schema($"{p.Name} has the wrong type (strings, ISO 8601 date-times, args an object)");
                    default:
                        return Schema($"unknown field '{Truncate(p.Name, 40)}' in the signed statement");
                }
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return Schema($"the signed statement is not JSON ({FirstLine(ex.Message)})");
        }
        if (id is null || !TransferIds.IsValid(id)) return Schema("id is required: 1-64 characters of [A-Za-z0-9._-]");
        if (device is null || command is null || issued is null || expires is null)
            return VerifiedCommand.Refused(name, id, CommandErrors.Schema, "device, command, issuedAt and expiresAt are required", op);
        if (!string.Equals(device, security.DeviceId, StringComparison.Ordinal))
            return VerifiedCommand.Refused(name, id, CommandErrors.WrongDevice, $"signed for device '{Truncate(device, 64)}', this is '{security.DeviceId}'", op);
        if (!string.Equals(command, name, StringComparison.Ordinal))
            return VerifiedCommand.Refused(name, id, CommandErrors.WrongDevice, $"signed for command '{Truncate(command, 64)}', arrived on cmd/{name}", op);
        return new VerifiedCommand { Name = name, Operator = op, Id = id, IssuedAt = issued.Value, ExpiresAt = expires.Value, Args = args };

        VerifiedCommand Schema(string reason) => VerifiedCommand.Refused(name, null, CommandErrors.Schema, reason, op);
    }

    private static bool IsKeyId(string s) => s.Length == 64 && s.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f');

    private static string Truncate(string s, int n) => s.Length <= n ? s : s[..n] + "...";

    private static string FirstLine(string s)
    {
        var i = s.IndexOf('\n');
        return i < 0 ? s : s[..i].TrimEnd();
    }
}
