using System.Reflection;
using LiteDB;

namespace EdgeInspect.Storage.LiteDb;

/// <summary>
/// Waits until LiteDB 5's log writer has written every page handed to it so far.
/// <para>
/// Why: in LiteDB 5.0.x a commit enqueues its pages on <c>DiskWriterQueue</c> and returns; a background task writes
/// them to the log file and only then fsyncs it. The engine's own wait (<c>DiskWriterQueue.Wait()</c>, used by its
/// checkpoint) is internal, and the only public call that reaches it, <c>Checkpoint()</c>, also copies the whole log
/// into the data file and truncates the log: about a dozen fsyncs per record. Waiting for the writer and then
/// fsyncing the log stream ourselves makes a commit durable with about one fsync: on open, LiteDB rebuilds its WAL
/// index from the log and replays every confirmed transaction in it.
/// </para>
/// <para>
/// The wait is reached by reflection (LiteDatabase._engine -&gt; LiteEngine._disk -&gt; DiskService.Queue -&gt;
/// Lazy&lt;DiskWriterQueue&gt;.Value, its _queueIsEmpty event and _exception), checked against the pinned LiteDB 5.0.20. When a LiteDB update moves
/// any of these, <see cref="TryCreate"/> returns null and the store falls back to a checkpoint per commit: slower,
/// still durable.
/// </para>
/// </summary>
internal static class LogWriterWait
{
    private const BindingFlags Any = BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public;
    private static readonly TimeSpan WaitSlice = TimeSpan.FromMilliseconds(20);

    /// <summary>An action that blocks until the log writer's queue is empty, or null when LiteDB's internals differ.</summary>
    public static Action? TryCreate(LiteDatabase db)
    {
        try
        {
            var engine = typeof(LiteDatabase).GetField("_engine", Any)?.GetValue(db);
            var disk = engine?.GetType().GetField("_disk", Any)?.GetValue(engine);
            var lazy = disk?.GetType().GetProperty("Queue", Any)?.GetValue(disk);
            var value = lazy?.GetType().GetProperty("Value", Any);
            if (lazy is null || value is null) return null;
            var queueType = value.PropertyType;
            if (queueType.Name != "DiskWriterQueue") return null;
            // The writer records a failed write (a full disk) in _exception and stops, leaving _queueIsEmpty unset, so
            // its own Wait() would block for ever: wait on the event in slices and surface the writer's exception.
            var emptyField = queueType.GetField("_queueIsEmpty", Any);
            var errorField = queueType.GetField("_exception", Any);
            if (emptyField?.FieldType != typeof(ManualResetEventSlim) || errorField is null) return null;
            return () =>
            {
                var queue = value.GetValue(lazy);
                var empty = (ManualResetEventSlim)emptyField.GetValue(queue)!;
                while (!empty.Wait(WaitSlice))
                {
                    if (errorField.GetValue(queue) is Exception failed) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failed).Throw();
                }
                if (errorField.GetValue(queue) is Exception late) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(late).Throw();
            };
        }
        catch (Exception e) when (e is FieldAccessException or MethodAccessException or TargetException or ArgumentException)
        {
            return null;
        }
    }
}
