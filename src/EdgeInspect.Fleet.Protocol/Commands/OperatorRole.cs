namespace EdgeInspect.Fleet.Protocol.Commands;

/// <summary>
/// What an operator key may do (ARCHITECTURE.md "Degrees of automation"); each role includes the ones below it.
/// Written in the device config in lower case (<c>observe</c>, <c>operate</c>, <c>override</c>).
/// </summary>
public enum OperatorRole
{
    /// <summary>Read-only commands: status, shadow-report, rebirth.</summary>
    Observe = 1,

    /// <summary>Changes within the gates: set-mode, promote, rollback.</summary>
    Operate = 2,

    /// <summary>Changes past a gate (<c>force</c> with a reason), where the device's profile allows remote override.</summary>
    Override = 3,
}
