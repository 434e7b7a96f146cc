namespace EdgeInspect.Core.Fleet;

/// <summary>Why a device refused a model package; the code goes into the reply and the event, stable for tooling.</summary>
public enum RefusalCode
{
    MalformedSignature,
    UnknownKey,
    BadSignature,
    MissingManifest,
    ManifestNotJson,
    ManifestSchema,
    UnsafePath,
    MissingFile,
    HashMismatch,
    LowerVersion,
    WrongFleet,
    WrongDevice,
    Oversize,
    Truncated,
    ArchiveInvalid,
    LoadFailed,
    ShapeMismatch,
    GoldenFailed,
    Busy,
}

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
