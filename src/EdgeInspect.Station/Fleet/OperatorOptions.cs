using EdgeInspect.Fleet.Protocol.Commands;

namespace EdgeInspect.Station.Fleet;

/// <summary>
/// One operator key the device accepts commands from (config <c>Fleet:Operators:&lt;n&gt;</c>): the public key file and
/// the role it is granted. The key file is read when the host starts, so a missing or bad key stops it naming the key.
/// </summary>
public sealed class OperatorOptions
{
    /// <summary>SubjectPublicKeyInfo PEM file of the operator's ES256 key (<c>edgeinspect-fleet keygen --operator</c>).</summary>
    public string Key { get; set; } = "";

    /// <summary><c>observe</c>, <c>operate</c> or <c>override</c> (<see cref="OperatorRole"/>).</summary>
    public string Role { get; set; } = "";

    /// <summary>Optional label audited beside the key id (for example the person or the service holding the key).</summary>
    public string? Name { get; set; }

    /// <summary>The role, parsed; throws naming <paramref name="path"/> when it is not one.</summary>
    public OperatorRole ParsedRole(string path) =>
        Enum.TryParse<OperatorRole>(Role, ignoreCase: true, out var r) && Enum.IsDefined(r) && !int.TryParse(Role, out _)
            ? r
            : throw new ArgumentException($"{path}:Role: '{Role}' is not a role (observe, operate, override)");

    /// <summary>Checks the fields (not the file); <paramref name="path"/> is the config path, e.g. <c>Fleet:Operators:0</c>.</summary>
    public void Validate(string path)
    {
        if (string.IsNullOrWhiteSpace(Key)) throw new ArgumentException($"{path}:Key: a public key file is required");
        ParsedRole(path);
        if (Name is { Length: > 64 }) throw new ArgumentException($"{path}:Name: at most 64 characters");
    }
}
