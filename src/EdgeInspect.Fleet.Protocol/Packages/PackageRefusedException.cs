namespace EdgeInspect.Fleet.Protocol.Packages;

/// <summary>A package refused with a one-line reason that names the file or field.</summary>
public sealed class PackageRefusedException(RefusalCode code, string message) : Exception(message)
{
    public RefusalCode Code { get; } = code;

    /// <summary>Kebab-case code as it appears on the wire ("hash-mismatch").</summary>
    public string WireCode => ToWire(Code);

    public static string ToWire(RefusalCode code)
    {
        var s = code.ToString();
        var sb = new System.Text.StringBuilder(s.Length + 4);
        for (var i = 0; i < s.Length; i++)
        {
            if (char.IsUpper(s[i]) && i > 0) sb.Append('-');
            sb.Append(char.ToLowerInvariant(s[i]));
        }
        return sb.ToString();
    }
}
