namespace EdgeInspect.Web;

/// <summary>One technician who may change the station's mode from the page.</summary>
public sealed class TechnicianAccount
{
    /// <summary>The name written into the audit trail.</summary>
    public string Name { get; set; } = "";

    /// <summary>The password's PBKDF2 hash (<see cref="Security.PasswordHasher"/>); the password itself is never stored.</summary>
    public string PasswordHash { get; set; } = "";
}
