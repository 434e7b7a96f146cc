namespace EdgeInspect.Station.Fleet.Slots;

/// <summary>
/// Downgrades an override key has allowed (<c>permit-rollback</c>): one package name and version each, until an
/// expiry. Held in memory only, so a restart forgets them and the floor holds again (fail closed): the operator signs
/// a new permit. Thread-safe.
/// </summary>
public sealed class RollbackPermits(TimeProvider time)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(string Name, long Version), Permit> _permits = [];

    /// <summary>Who allowed a downgrade, why, and until when.</summary>
    public sealed record Permit(string Actor, string Reason, DateTimeOffset Expires);

    /// <summary>Allows <paramref name="version"/> of <paramref name="name"/> below the floor for <paramref name="lifetime"/> from now.</summary>
    public Permit Grant(string name, long version, string actor, string reason, TimeSpan lifetime)
    {
        var permit = new Permit(actor, reason, time.GetUtcNow() + lifetime);
        lock (_lock) _permits[(name, version)] = permit;
        return permit;
    }

    /// <summary>The live permit for this name and version, if any.</summary>
    public Permit? Find(string name, long version)
    {
        var now = time.GetUtcNow();
        lock (_lock)
        {
            foreach (var k in _permits.Where(p => p.Value.Expires < now).Select(p => p.Key).ToList()) _permits.Remove(k);
            return _permits.GetValueOrDefault((name, version));
        }
    }

    /// <summary>Spends the permit once the version is active: a later downgrade needs a new one.</summary>
    public void Consume(string name, long version)
    {
        lock (_lock) _permits.Remove((name, version));
    }
}
