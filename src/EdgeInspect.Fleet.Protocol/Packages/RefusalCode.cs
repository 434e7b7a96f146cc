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
    /// <summary>The offer carries no signed statement: no chunk is taken for it.</summary>
    Unsigned,
    /// <summary>Signed by a key on the device's revocation list (config or a <c>revoke-key</c> command).</summary>
    RevokedKey,
    /// <summary>The offer or the unpacked manifest disagrees with the signed statement (hash, size, id, name, version).</summary>
    StatementMismatch,
    /// <summary>The offer's chunk size is under the device's minimum (a chunk-size-1 offer is a memory attack).</summary>
    ChunkTooSmall,
    /// <summary>The offer has more chunks than the device tracks per transfer.</summary>
    TooManyChunks,
    /// <summary>The device already has as many transfers in flight as it allows.</summary>
    TransferBusy,
    /// <summary>Taking the package would eat into the disk reserve kept for the record store.</summary>
    NoSpace,
    /// <summary>An offer or end message that is not JSON or lacks a field.</summary>
    Malformed,
    /// <summary>An unexpected failure on the package path; the reason carries the exception's message.</summary>
    Internal,
}
