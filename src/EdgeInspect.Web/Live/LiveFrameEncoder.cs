using System.Globalization;
using EdgeInspect.Core.Domain;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenCvSharp;

namespace EdgeInspect.Web.Live;

/// <summary>
/// Draws the newest part's boxes, classes and scores and encodes it as JPEG, at most <see cref="WebOptions.LiveFps"/>
/// times a second on its own thread (never the inspection or record stage's). Keeps the last few frames by sequence
/// so a page can fetch exactly the frame an event named.
/// </summary>
public sealed class LiveFrameEncoder : BackgroundService
{
    /// <summary>Box colour, BGR: pure red stands out on the grey plates and in a test's pixel check.</summary>
    public static readonly Scalar BoxColor = new(0, 0, 255);

    private const int Kept = 16;
    private readonly LiveFrameObserver _observer;
    private readonly WebOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _log;
    private readonly Lock _lock = new();
    private readonly LinkedList<LiveFrame> _frames = new();
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>An encoder over <paramref name="observer"/>'s copies.</summary>
    public LiveFrameEncoder(LiveFrameObserver observer, WebOptions options, TimeProvider time, ILogger<LiveFrameEncoder> log)
    {
        _observer = observer;
        _options = options;
        _time = time;
        _log = log;
    }

    /// <summary>Frames encoded since start.</summary>
    public long Encoded { get; private set; }

    /// <summary>The newest encoded frame, or null before the first.</summary>
    public LiveFrame? Latest
    {
        get { lock (_lock) return _frames.Last?.Value; }
    }

    /// <summary>The frame of part <paramref name="sequence"/> while it is among the last few encoded.</summary>
    public LiveFrame? Find(long sequence)
    {
        lock (_lock) return _frames.LastOrDefault(f => f.Record.Sequence == sequence);
    }

    /// <summary>Completes when a frame newer than <paramref name="afterSequence"/> is encoded (or already is).</summary>
    public async Task<LiveFrame> NextAsync(long afterSequence, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task wait;
            lock (_lock)
            {
                if (_frames.Last?.Value is { } last && last.Record.Sequence > afterSequence) return last;
                wait = _next.Task;
            }
            await wait.WaitAsync(cancellationToken);
        }
    }

    /// <summary>Encodes the pending part if there is one; the loop calls it, tests may too.</summary>
    public bool EncodeOnce()
    {
        if (!_observer.TryTake(Draw, out var frame) || frame is null) return false;
        TaskCompletionSource done;
        lock (_lock)
        {
            _frames.AddLast(frame);
            while (_frames.Count > Kept) _frames.RemoveFirst();
            done = _next;
            _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
            Encoded++;
        }
        done.TrySetResult();
        return true;
    }

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1 / _options.LiveFps), _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try { EncodeOnce(); }
                catch (Exception e) when (e is OpenCVException or ArgumentException or InvalidOperationException)
                {
                    _log.LogWarning(e, "Live frame not encoded");
                }
            }
        }
        catch (OperationCanceledException) { /* stopping */ }
    }

    private unsafe LiveFrame Draw(ReadOnlySpan<byte> bgr, int width, int height, InspectionRecord record)
    {
        using var mat = new Mat(height, width, MatType.CV_8UC3);
        bgr.CopyTo(new Span<byte>((void*)mat.Data, width * height * 3));
        foreach (var region in record.Regions)
        {
            if (region.WholeFrame) continue;
            var b = region.Box;
            var topLeft = new Point((int)MathF.Round(b.X1), (int)MathF.Round(b.Y1));
            Cv2.Rectangle(mat, topLeft, new Point((int)MathF.Round(b.X2), (int)MathF.Round(b.Y2)), BoxColor, 2);
            string label = string.Create(CultureInfo.InvariantCulture, $"{region.ClassName ?? "region"} {(region.ClassName is null ? region.Score : region.ClassConfidence):0.00}");
            var textAt = new Point(topLeft.X, Math.Max(10, topLeft.Y - 4));
            Cv2.PutText(mat, label, textAt, HersheyFonts.HersheySimplex, 0.4, BoxColor, 1, LineTypes.AntiAlias);
        }
        Cv2.ImEncode(".jpg", mat, out byte[] jpeg, new ImageEncodingParam(ImwriteFlags.JpegQuality, _options.JpegQuality));
        return new LiveFrame(jpeg, record);
    }
}
