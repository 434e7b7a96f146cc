using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using EdgeInspect.Fleet.Protocol.Signing;

namespace EdgeInspect.Fleet.Protocol.Commands;

/// <summary>
/// The signed command envelope, a UTF-8 JSON object with exactly three fields:
/// <c>{"keyId": "&lt;hex SHA-256 of the operator's public key&gt;", "signature": "&lt;base64 r||s&gt;", "signed": "&lt;statement&gt;"}</c>.
/// The statement is itself JSON text carried as a string:
/// <c>{"device": "...", "command": "...", "id": "...", "issuedAt": "&lt;ISO 8601&gt;", "expiresAt": "&lt;ISO 8601&gt;", "args": {...}}</c>.
/// The ES256 signature (RFC 7518 section 3.4) covers the exact UTF-8 bytes of that string, so no canonical JSON form is
/// needed, and it names the device and the command: a captured command cannot be replayed on another device, under
/// another command topic or with other arguments. The device parses the statement only after the signature holds.
/// </summary>
public static class CommandEnvelope
{
    /// <summary>Outer field: the signing operator key's id (<see cref="PackageKeys.KeyId"/>).</summary>
    public const string KeyId = "keyId";

    /// <summary>Outer field: base64 of the ES256 signature (r || s, 64 bytes) over the UTF-8 bytes of <see cref="Signed"/>.</summary>
    public const string Signature = "signature";

    /// <summary>Outer field: the signed statement, JSON text in a string.</summary>
    public const string Signed = "signed";

    /// <summary>Statement field: the device id the command is for.</summary>
    public const string Device = "device";

    /// <summary>Statement field: the command name; must equal the <c>cmd/&lt;name&gt;</c> topic level it arrives on.</summary>
    public const string Command = "command";

    /// <summary>Statement field: the command id, 1-64 characters of [A-Za-z0-9._-]; remembered by the device against replay.</summary>
    public const string Id = "id";

    /// <summary>Statement field: ISO 8601 date-time the command was signed (audited; not after the device's clock plus skew).</summary>
    public const string IssuedAt = "issuedAt";

    /// <summary>Statement field: ISO 8601 date-time after which the device refuses the command.</summary>
    public const string ExpiresAt = "expiresAt";

    /// <summary>Statement field: the command's arguments, an object.</summary>
    public const string Args = "args";

    /// <summary>The statement text the operator signs.</summary>
    public static string Statement(string deviceId, string command, string id, DateTimeOffset issuedAt, DateTimeOffset expiresAt, JsonObject? args) =>
        new JsonObject
        {
            [Device] = deviceId,
            [Command] = command,
            [Id] = id,
            [IssuedAt] = issuedAt.ToString("O", CultureInfo.InvariantCulture),
            [ExpiresAt] = expiresAt.ToString("O", CultureInfo.InvariantCulture),
            [Args] = args?.DeepClone() ?? new JsonObject(),
        }.ToJsonString();

    /// <summary>Signs <paramref name="statement"/> with <paramref name="key"/> and wraps it in the envelope.</summary>
    public static byte[] Wrap(string statement, ECDsa key) => Wrap(statement, PackageKeys.KeyId(key),
        key.SignData(Encoding.UTF8.GetBytes(statement), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));

    /// <summary>The envelope around a statement and a signature made elsewhere (tests use it to forge one).</summary>
    public static byte[] Wrap(string statement, string keyId, byte[] signature) =>
        JsonSerializer.SerializeToUtf8Bytes(new JsonObject
        {
            [KeyId] = keyId,
            [Signature] = Convert.ToBase64String(signature),
            [Signed] = statement,
        });

    /// <summary>A complete signed command for <paramref name="deviceId"/>.</summary>
    public static byte[] Sign(ECDsa key, string deviceId, string command, string id, DateTimeOffset issuedAt, DateTimeOffset expiresAt, JsonObject? args) =>
        Wrap(Statement(deviceId, command, id, issuedAt, expiresAt, args), key);
}
