using EdgeInspect.Fleet.Protocol.Signing;

namespace EdgeInspect.Station.Fleet.Commands;

/// <summary>The operator keys a device accepts commands from (<c>Fleet:Operators</c>), indexed by key id.</summary>
public sealed class OperatorKeys : IDisposable
{
    private readonly Dictionary<string, OperatorKey> _keys = new(StringComparer.Ordinal);

    /// <summary>Holds <paramref name="keys"/>; a key listed twice keeps its first entry's role.</summary>
    public OperatorKeys(IEnumerable<OperatorKey> keys)
    {
        foreach (var k in keys)
        {
            if (!_keys.TryAdd(k.KeyId, k)) k.PublicKey.Dispose();
        }
    }

    /// <summary>No operator: every command is refused as <c>unknown-key</c>.</summary>
    public static OperatorKeys None => new([]);

    /// <summary>
    /// Reads every operator's public key file; a missing or bad file, or a bad role, throws
    /// <see cref="ArgumentException"/> naming the config key (<c>&lt;section&gt;:Operators:&lt;n&gt;:Key</c>).
    /// </summary>
    public static OperatorKeys FromOptions(IReadOnlyList<OperatorOptions> operators, string section)
    {
        var loaded = new List<OperatorKey>();
        try
        {
            for (var i = 0; i < operators.Count; i++)
            {
                var path = $"{section}:Operators:{i}";
                var o = operators[i];
                o.Validate(path);
                if (!File.Exists(o.Key)) throw new ArgumentException($"{path}:Key: file '{o.Key}' not found");
                try
                {
                    var key = PackageKeys.ImportPublicPem(File.ReadAllText(o.Key), o.Key);
                    loaded.Add(new OperatorKey(PackageKeys.KeyId(key), o.ParsedRole(path), o.Name, key));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or KeyFormatException)
                {
                    throw new ArgumentException($"{path}:Key: {e.Message}", e);
                }
            }
            return new OperatorKeys(loaded);
        }
        catch
        {
            foreach (var k in loaded) k.PublicKey.Dispose();
            throw;
        }
    }

    /// <summary>The keys, for the status and tests.</summary>
    public IReadOnlyCollection<OperatorKey> Keys => _keys.Values;

    /// <summary>The operator key with this id, if the device lists it.</summary>
    public bool TryGet(string keyId, out OperatorKey key) => _keys.TryGetValue(keyId, out key!);

    /// <summary>Disposes the public keys.</summary>
    public void Dispose()
    {
        foreach (var k in _keys.Values) k.PublicKey.Dispose();
        _keys.Clear();
    }
}
