namespace EdgeInspect.Fleet.Protocol.Packages;

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
