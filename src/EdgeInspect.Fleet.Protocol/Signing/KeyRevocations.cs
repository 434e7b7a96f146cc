using System.Collections.Immutable;

namespace EdgeInspect.Fleet.Protocol.Signing;

/// <summary>
/// Key ids a device no longer trusts, whatever list names them (package keys and operator keys alike): a revoked key's
/// packages and commands are refused as <c>revoked-key</c>. Thread-safe; reads take no lock, since every command and
/// every offer asks.
/// </summary>
public sealed class KeyRevocations
{
    private ImmutableHashSet<string> _ids;

    /// <summary>Starts with <paramref name="keyIds"/> (lower-case hex SHA-256 of each public key, <see cref="PackageKeys.KeyId"/>).</summary>
    public KeyRevocations(IEnumerable<string>? keyIds = null) =>
        _ids = ImmutableHashSet.CreateRange(StringComparer.Ordinal, keyIds ?? []);

    /// <summary>The revoked key ids.</summary>
    public IReadOnlyCollection<string> Ids => _ids;

    /// <summary>True when <paramref name="keyId"/> is revoked.</summary>
    public bool IsRevoked(string? keyId) => keyId is not null && _ids.Contains(keyId);

    /// <summary>Revokes <paramref name="keyId"/>; false when it already was.</summary>
    public bool Add(string keyId)
    {
        if (!IsKeyId(keyId)) throw new ArgumentException($"key id '{keyId}' is not 64 lower-case hex characters", nameof(keyId));
        return ImmutableInterlocked.Update(ref _ids, (s, k) => s.Add(k), keyId);
    }

    /// <summary>True for 64 lower-case hex characters, the form <see cref="PackageKeys.KeyId"/> writes.</summary>
    public static bool IsKeyId(string? s) => s is { Length: 64 } && s.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f');
}
