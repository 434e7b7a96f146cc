using System.Globalization;
using System.Text.Json.Nodes;
using EdgeInspect.Fleet.Protocol.Commands;
using EdgeInspect.Fleet.Protocol.Signing;
using EdgeInspect.Station.Fleet.Commands;

namespace EdgeInspect.Station.Fleet.Slots;

/// <summary>
/// The commands that change what the device trusts, both for <c>override</c> keys only: <c>revoke-key</c>
/// (<c>{keyId, reason}</c>: the key's packages and commands are refused from now on, persisted across restarts) and
/// <c>permit-rollback</c> (<c>{model, version, reason, minutes}</c>: that one version may install and become active below
/// the anti-rollback floor, for a while, where the profile allows remote override). Both are audited with the verified
/// key and the reason.
/// </summary>
public static class PackageTrustCommands
{
    /// <summary>How long a rollback permit lasts unless the command says otherwise.</summary>
    public static readonly TimeSpan DefaultPermitLifetime = TimeSpan.FromHours(1);

    /// <summary>Longest permit a command may ask for.</summary>
    public static readonly TimeSpan MaxPermitLifetime = TimeSpan.FromHours(24);

    /// <summary>Audits one trust change: kind, actor, from, to, reason.</summary>
    public delegate void Audit(string kind, string actor, string? from, string? to, string reason);

    /// <summary>Registers both commands on <paramref name="processor"/>.</summary>
    public static void Register(CommandProcessor processor, PackageInstaller installer, Audit audit)
    {
        processor.Register("revoke-key", OperatorRole.Override, (c, _) =>
        {
            var keyId = c.RequiredString("keyId", 64);
            var reason = c.RequiredString("reason", 512);
            if (!KeyRevocations.IsKeyId(keyId))
                throw new CommandException(CommandErrors.BadArgs, "revoke-key: args.keyId must be 64 lower-case hex characters (edgeinspect-fleet keygen prints it)");
            if (OperatorKey.KeyIdOf(c.Actor) == keyId)
                throw new CommandException(CommandErrors.Refused, "revoke-key: a key cannot revoke itself; sign with another override key");
            var added = installer.RevokedKeys.Revoke(keyId, c.Actor, installer.Time.GetUtcNow(), reason);
            if (added) audit("key-revoked", c.Actor, keyId, null, reason);
            return ValueTask.FromResult<JsonNode?>(new JsonObject { ["keyId"] = keyId, ["revoked"] = true, ["already"] = !added });
        });
        processor.Register("permit-rollback", OperatorRole.Override, (c, _) =>
        {
            if (!processor.Security.AllowRemoteOverride)
                throw new CommandException(CommandErrors.OverrideDisabled, "permit-rollback: this device does not allow a remote override (Fleet:AllowRemoteOverride is off)");
            var model = c.RequiredString("model", 128);
            var reason = c.RequiredString("reason", 512);
            if (!c.Args.TryGetProperty("version", out var v) || !v.TryGetInt64(out var version) || version < 0)
                throw new CommandException(CommandErrors.BadArgs, "permit-rollback: args.version is required (a non-negative integer)");
            var lifetime = DefaultPermitLifetime;
            if (c.Args.TryGetProperty("minutes", out var m))
            {
                if (!m.TryGetInt32(out var minutes) || minutes < 1 || TimeSpan.FromMinutes(minutes) > MaxPermitLifetime)
                    throw new CommandException(CommandErrors.BadArgs, $"permit-rollback: args.minutes must be 1..{MaxPermitLifetime.TotalMinutes}");
                lifetime = TimeSpan.FromMinutes(minutes);
            }
            if (installer.Floor.Corrupt)
                throw new CommandException(CommandErrors.Refused, $"permit-rollback: {installer.Floor.CorruptReason}");
            var floor = installer.Floor.Of(model);
            var permit = installer.Permits.Grant(model, version, c.Actor, reason, lifetime);
            audit("rollback-permitted", c.Actor, floor?.ToString(CultureInfo.InvariantCulture), $"{model} v{version}",
                $"{reason} (until {permit.Expires:O})");
            return ValueTask.FromResult<JsonNode?>(new JsonObject
            {
                ["model"] = model,
                ["version"] = version,
                ["floor"] = floor,
                ["expires"] = permit.Expires.ToString("O", CultureInfo.InvariantCulture),
            });
        });
    }
}
