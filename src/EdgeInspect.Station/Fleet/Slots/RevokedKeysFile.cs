using System.Text.Json;
using EdgeInspect.Fleet.Protocol.Signing;

namespace EdgeInspect.Station.Fleet.Slots;

/// <summary>
/// The device's key revocations: the ids in the config (<c>Fleet:RevokedKeys</c>) and those revoked by a signed
/// <c>revoke-key</c> command, the latter persisted in <c>revoked-keys.json</c> beside the slots (written by
/// <see cref="AtomicFile"/>) so a revocation survives a restart. A damaged file stops the service at start, naming the
/// file: silently forgetting a revocation would trust a key an operator revoked.
/// </summary>
public sealed class RevokedKeysFile
{
    /// <summary>The file's name inside the slots folder.</summary>
    public const string FileName = "revoked-keys.json";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };
    private readonly string _path;
    private readonly Lock _lock = new();
    private readonly List<Entry> _entries = [];

    /// <summary>One revocation made by command: which key, by whom, when and why.</summary>
    public sealed record Entry(string KeyId, string Actor, DateTimeOffset At, string Reason);

    /// <summary>Reads the file in <paramref name="folder"/> and merges <paramref name="configured"/>; throws <see cref="InvalidDataException"/> on a damaged file.</summary>
    public RevokedKeysFile(string folder, IEnumerable<string>? configured = null)
    {
        Directory.CreateDirectory(folder);
        _path = Path.Combine(folder, FileName);
        if (File.Exists(_path))
        {
            try
            {
                var read = JsonSerializer.Deserialize<List<Entry>>(File.ReadAllBytes(_path), Json) ?? throw new JsonException("null");
                if (read.FirstOrDefault(e => !KeyRevocations.IsKeyId(e?.KeyId)) is { } bad)
                    throw new JsonException($"'{bad?.KeyId}' is not a key id");
                _entries.AddRange(read);
            }
            catch (JsonException ex)
            {
                throw new InvalidDataException($"{_path}: revoked keys unreadable ({ex.Message}); repair it before the station starts, revocations are never dropped silently", ex);
            }
        }
        Revocations = new KeyRevocations((configured ?? []).Concat(_entries.Select(e => e.KeyId)));
    }

    /// <summary>The live set every signature check consults.</summary>
    public KeyRevocations Revocations { get; }

    /// <summary>The revocations made by command, oldest first.</summary>
    public IReadOnlyList<Entry> Entries
    {
        get { lock (_lock) return [.. _entries]; }
    }

    /// <summary>Revokes <paramref name="keyId"/> now and persists it; false when it was revoked already.</summary>
    public bool Revoke(string keyId, string actor, DateTimeOffset at, string reason)
    {
        lock (_lock)
        {
            if (Revocations.IsRevoked(keyId)) return false;
            var entries = new List<Entry>(_entries) { new(keyId, actor, at, reason) };
            // On disk first: a revocation that is answered "done" must survive a power cut.
            AtomicFile.Write(_path, JsonSerializer.SerializeToUtf8Bytes(entries, Json));
            _entries.Add(entries[^1]);
            Revocations.Add(keyId);
            return true;
        }
    }
}
