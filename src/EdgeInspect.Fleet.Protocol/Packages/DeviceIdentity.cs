namespace EdgeInspect.Fleet.Protocol.Packages;

/// <summary>Who this device is, for the package's fleet / device match.</summary>
public sealed record DeviceIdentity(string DeviceId, string? Fleet);
