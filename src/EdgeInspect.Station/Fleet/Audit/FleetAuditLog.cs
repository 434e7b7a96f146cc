using EdgeInspect.Core.Storage;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Station.Fleet.Audit;

/// <summary>
/// Every fleet state change as an <see cref="AuditEvent"/>: appended to the store when it happens, kept in a short list
/// for the status message, and raised on <see cref="Raised"/> once the agent has left its locks (the transport
/// publishes it and refreshes the status message, which reads the agent's state).
/// </summary>
public sealed class FleetAuditLog(IInspectionStore store, TimeProvider time, int keep, ILogger log)
{
    private readonly LinkedList<AuditEvent> _recent = new();

    /// <summary>Raised for each event passed to <see cref="Raise"/>; a failing handler is logged, never thrown.</summary>
    public event Action<AuditEvent>? Raised;

    /// <summary>Stores and logs one event now; the caller raises it after leaving its locks.</summary>
    public AuditEvent Append(string kind, string actor, string source, string? from, string? to, string? reason)
    {
        var e = new AuditEvent(time.GetUtcNow(), kind, actor, source, from, to, reason);
        store.AppendAudit(e);
        lock (_recent)
        {
            _recent.AddFirst(e);
            while (_recent.Count > keep) _recent.RemoveLast();
        }
        log.LogInformation("fleet: {Kind} {From} -> {To} by {Actor} ({Reason})", kind, from, to, actor, reason);
        return e;
    }

    /// <summary>The last events, newest first.</summary>
    public IReadOnlyList<AuditEvent> Recent()
    {
        lock (_recent) return [.. _recent];
    }

    /// <summary>Tells the handlers about <paramref name="events"/>, in order.</summary>
    public void Raise(IEnumerable<AuditEvent> events)
    {
        foreach (var e in events)
        {
            try { Raised?.Invoke(e); }
            catch (Exception ex) when (ex is not OutOfMemoryException) { log.LogWarning("fleet event handler failed: {Error}", ex.Message); }
        }
    }
}
