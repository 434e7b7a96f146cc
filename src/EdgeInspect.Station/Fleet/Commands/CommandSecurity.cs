using EdgeInspect.Fleet.Protocol.Signing;

namespace EdgeInspect.Station.Fleet.Commands;

/// <summary>
/// What a device trusts for commands: its own id (a command signed for another device is refused), the operator keys
/// with their roles, whether a remote <c>force</c> is allowed at all (<c>Fleet:AllowRemoteOverride</c>), and the key
/// ids revoked since (<c>Fleet:RevokedKeys</c> and <c>revoke-key</c>), refused as <c>revoked-key</c>.
/// </summary>
public sealed record CommandSecurity(string DeviceId, OperatorKeys Operators, bool AllowRemoteOverride = false, KeyRevocations? Revoked = null);
