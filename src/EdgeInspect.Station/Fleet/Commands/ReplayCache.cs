namespace EdgeInspect.Station.Fleet.Commands;

/// <summary>
/// Command ids remembered per operator key until their expiry (plus the clock skew allowance): an id older than that
/// is refused as expired anyway, which is what bounds the cache. Each key has its own bound, so a flood signed by one
/// key fills only that key's budget. Thread-safe.
/// </summary>
internal sealed class ReplayCache(int maxPerKey, TimeSpan skew)
{
    private readonly Dictionary<string, Entries> _byKey = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    public enum Outcome { Added, Replayed, Full }

    private sealed class Entries
    {
        public readonly Dictionary<string, DateTimeOffset> Seen = new(StringComparer.Ordinal);
        public readonly PriorityQueue<string, DateTimeOffset> Expiries = new();
    }

    public int Count
    {
        get { lock (_lock) return _byKey.Values.Sum(e => e.Seen.Count); }
    }

    public Outcome TryAdd(string keyId, string id, DateTimeOffset expiry, DateTimeOffset now, bool force = false)
    {
        lock (_lock)
        {
            if (!_byKey.TryGetValue(keyId, out var e)) _byKey[keyId] = e = new Entries();
            while (e.Expiries.TryPeek(out var oldId, out var oldExpiry) && oldExpiry + skew < now)
            {
                e.Expiries.Dequeue();
                e.Seen.Remove(oldId);
            }
            if (e.Seen.ContainsKey(id)) return Outcome.Replayed;
            // Reloaded ids are taken past the bound: forgetting one would reopen it to replay.
            if (!force && e.Seen.Count >= maxPerKey) return Outcome.Full;
            e.Seen[id] = expiry;
            e.Expiries.Enqueue(id, expiry);
            return Outcome.Added;
        }
    }
}
