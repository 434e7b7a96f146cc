namespace EdgeInspect.Station.Fleet;

/// <summary>The outcome of promote / rollback: done, or refused with a stable code and a reason.</summary>
public sealed record FleetActionResult(bool Done, string? Code, string Reason);
