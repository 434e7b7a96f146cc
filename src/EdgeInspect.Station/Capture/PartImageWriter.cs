using EdgeInspect.Core.Imaging;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Station.Capture;

/// <summary>
/// Encodes the captured parts as JPEG and writes them into the image folder, on its own thread, then holds the folder
/// under <see cref="CaptureOptions.MaxBytes"/>. A failed encode or write is logged and counted; the part's record is
/// kept either way.
/// </summary>
public sealed class PartImageWriter(PartImageCapture capture, PartImageFolder folder, IJpegEncoder encoder, ILogger<PartImageWriter> log)
    : BackgroundService
{
    private long _written;
    private long _bytes;
    private long _failed;
    private long _evicted;

    /// <summary>Images written since start.</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>JPEG bytes written since start.</summary>
    public long BytesWritten => Interlocked.Read(ref _bytes);

    /// <summary>Images that could not be encoded or written.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Images deleted to stay under the folder's limit.</summary>
    public long Evicted => Interlocked.Read(ref _evicted);

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var jobs = capture.Jobs;
        // Drain after stop is requested too: the records of the queued parts already name their images.
        while (await jobs.WaitToReadAsync(CancellationToken.None))
        {
            while (jobs.TryRead(out var job))
            {
                capture.Taken();
                using (job) WriteOne(job);
            }
        }
    }

    /// <inheritdoc/>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Registered before the record stage, so it stops after it: the record stage has put its last part in.
        capture.Complete();
        await base.StopAsync(cancellationToken);
    }

    /// <summary>Encodes and writes one image; the loop calls it, tests may too.</summary>
    internal void WriteOne(CaptureJob job)
    {
        try
        {
            var jpeg = encoder.Encode(job.Pixels, capture.Options.JpegQuality);
            Interlocked.Add(ref _bytes, folder.Write(job.Epoch, job.FileName, jpeg));
            Interlocked.Increment(ref _written);
            Interlocked.Add(ref _evicted, folder.Enforce(capture.Options.MaxBytes));
        }
        catch (Exception e) when (e is not OutOfMemoryException) // the encoder's native errors included: an image never stops the writer
        {
            Interlocked.Increment(ref _failed);
            log.LogWarning("part image {Name} not kept: {Error}", job.FileName, e.Message);
        }
    }
}
