using System.Threading.Channels;
using EdgeInspect.Core.Imaging;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Station.Pipeline;

/// <summary>The bounded channel between capture and inspection, with its policy when full.</summary>
public sealed class FrameChannel
{
    /// <param name="capacity">Frames that may wait for inspection; small, so latency stays bounded.</param>
    public FrameChannel(int capacity = 4)
    {
        // Wait when full: the capture stage decides per frame whether to wait (triggered part) or drop
        // (free-running frame), so the channel itself never discards anything silently.
        Channel = System.Threading.Channels.Channel.CreateBounded<Frame>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = true,
        });
    }

    public Channel<Frame> Channel { get; }
}

/// <summary>
/// Stage 1: frames from the source into the channel. A triggered part waits for room (back-pressure reaches the
/// source; a part is never dropped); a free-running frame is dropped and counted when the station is behind.
/// </summary>
public sealed class CaptureStage(IFrameSource source, FrameChannel channel, StationEngine engine, ILogger<CaptureStage> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var writer = channel.Channel.Writer;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var frame = await source.ReadAsync(stoppingToken);
                if (frame is null) { log.LogInformation("source {Source} ended", source.Name); break; }
                engine.Telemetry.FrameCaptured();
                if (source.Triggered) await writer.WriteAsync(frame, stoppingToken);
                else if (!writer.TryWrite(frame)) { engine.Counters.CountDrop(); engine.Telemetry.FrameDropped(); frame.Dispose(); }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
        finally { writer.TryComplete(); }
    }
}

/// <summary>Stage 2: inspection, policy, actuation and the durable record, one part at a time.</summary>
public sealed class InspectionStage(FrameChannel channel, StationEngine engine, ILogger<InspectionStage> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var reader = channel.Channel.Reader;
        // Drain what was captured even after stop is requested: every triggered part gets a record.
        while (await reader.WaitToReadAsync(CancellationToken.None))
        {
            while (reader.TryRead(out var frame))
            {
                using (frame)
                {
                    try { engine.Process(frame); }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        log.LogError(e, "part {Part} could not be recorded", frame.PartId);
                    }
                }
            }
        }
        engine.SaveSequence();
    }
}
