namespace EdgeInspect.Station.Fleet.Commands;

/// <summary>
/// What a device trusts for commands: its own id (a command signed for another device is refused), the operator keys
/// with their roles, and whether a remote <c>force</c> is allowed at all (<c>Fleet:AllowRemoteOverride</c>).
/// </summary>
public sealed record CommandSecurity(string DeviceId, OperatorKeys Operators, bool AllowRemoteOverride = false);
