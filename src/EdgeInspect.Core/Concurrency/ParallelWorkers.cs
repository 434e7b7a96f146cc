using System.Runtime.ExceptionServices;

namespace EdgeInspect.Core.Concurrency;

/// <summary>One item of a <see cref="ParallelWorkers.For"/> loop; <paramref name="worker"/> picks per-worker scratch.</summary>
public interface IParallelBody
{
    void Run(int item, int worker);
}

/// <summary>
/// A fixed gang of worker threads for short data-parallel loops on the frame path (pyramid levels, region crops):
/// the calling thread works too, items are handed out one at a time (so unequal items balance), and the call
/// returns when every item is done. Unlike <c>Parallel.For</c> it allocates nothing per call (no delegates,
/// closures or tasks), which keeps the warm cascade allocation-free; the threads are its own, so it never waits
/// behind other work on the shared thread pool.
/// Between loops the helpers block (no spinning), leaving the cores to ONNX Runtime. One loop at a time: not
/// reentrant, one caller thread.
/// </summary>
public sealed class ParallelWorkers : IDisposable
{
    private readonly Thread[] _helpers;
    private readonly SemaphoreSlim[] _start;
    // SemaphoreSlim, not ManualResetEventSlim: the latter allocates its lock object at the first blocking wait.
    private readonly SemaphoreSlim _done = new(0);
    private IParallelBody? _body;
    private int _items;
    private int _next;
    private int _running;
    private ExceptionDispatchInfo? _error;
    private volatile bool _stopping;
    private int _busy;

    /// <param name="count">Workers in all, the caller included; 1 runs every loop on the caller.</param>
    public ParallelWorkers(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        Count = count;
        _helpers = new Thread[count - 1];
        _start = new SemaphoreSlim[count - 1];
        for (int i = 0; i < _helpers.Length; i++)
        {
            int worker = i + 1;
            _start[i] = new SemaphoreSlim(0);
            _helpers[i] = new Thread(() => HelperLoop(worker)) { IsBackground = true, Name = $"edgeinspect-worker-{worker}" };
            _helpers[i].Start();
        }
    }

    /// <summary>Workers in all, the calling thread included (the range of the worker index a body sees).</summary>
    public int Count { get; }

    /// <summary>
    /// Runs <paramref name="body"/> for items 0 .. <paramref name="items"/> - 1 on at most <paramref name="maxWorkers"/>
    /// workers (1: on the caller alone, for loops too small to pay for a helper's wake-up); rethrows the first failure.
    /// </summary>
    public void For(int items, IParallelBody body, int maxWorkers = int.MaxValue)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxWorkers);
        ArgumentNullException.ThrowIfNull(body);
        ObjectDisposedException.ThrowIf(_stopping, this);
        if (items <= 0) return;
        // Two callers at once would share the helpers' item counter and completion signal and could hang each other:
        // refuse loudly instead (each thread needs its own gang, e.g. its own image operations).
        if (Interlocked.Exchange(ref _busy, 1) != 0)
            throw new InvalidOperationException("ParallelWorkers.For called while another loop is running: one loop at a time, from one thread");
        try
        {
            RunLoop(items, body, maxWorkers);
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    private void RunLoop(int items, IParallelBody body, int maxWorkers)
    {
        int helpers = Math.Min(Math.Min(_helpers.Length, items - 1), maxWorkers - 1);
        if (helpers == 0)
        {
            for (int i = 0; i < items; i++) body.Run(i, 0);
            return;
        }
        if (!t_waitPrimed) PrimeWait();
        _body = body;
        _items = items;
        _next = 0;
        _error = null;
        _running = helpers;
        for (int i = 0; i < helpers; i++) _start[i].Release();
        try
        {
            Work(0);
        }
        catch (Exception ex)
        {
            Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(ex), null);
            _next = int.MaxValue / 2; // the helpers take no new items
        }
        _done.Wait();
        _body = null;
        _error?.Throw();
    }

    [ThreadStatic]
    private static bool t_waitPrimed;

    /// <summary>
    /// The runtime allocates a thread's wait state (64 B) at its first blocking wait. Whether a caller blocks on
    /// <c>_done</c> depends on who finishes first, so that first block could land in any frame, long after warm-up
    /// (seen: a zero-allocation test failing about one run in six). A short timed wait on the first loop from each
    /// thread pays it up front.
    /// </summary>
    private static void PrimeWait()
    {
        using (var primer = new SemaphoreSlim(0)) primer.Wait(1);
        t_waitPrimed = true;
    }

    private void Work(int worker)
    {
        var body = _body!;
        int i;
        while ((i = Interlocked.Increment(ref _next) - 1) < _items) body.Run(i, worker);
    }

    private void HelperLoop(int worker)
    {
        var start = _start[worker - 1];
        while (true)
        {
            start.Wait();
            if (_stopping) return;
            try
            {
                Work(worker);
            }
            catch (Exception ex)
            {
                Interlocked.CompareExchange(ref _error, ExceptionDispatchInfo.Capture(ex), null);
                _next = int.MaxValue / 2;
            }
            if (Interlocked.Decrement(ref _running) == 0) _done.Release();
        }
    }

    public void Dispose()
    {
        if (_stopping) return;
        _stopping = true;
        foreach (var s in _start) s.Release();
        foreach (var t in _helpers) t.Join();
        foreach (var s in _start) s.Dispose();
        _done.Dispose();
    }
}
