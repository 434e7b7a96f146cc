using System.Threading.Channels;
using EdgeInspect.Core.Imaging;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EdgeInspect.Station.Pipeline;

/// <summary>
/// A bounded channel between two stages that waits when full: the writing stage decides what to do with an item
/// that has no room (wait, or drop and count), so the channel itself never discards anything silently.
/// </summary>
public abstract class StageChannel<T>
{
    protected StageChannel(int capacity)
    {
        Channel = System.Threading.Channels.Channel.CreateBounded<T>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = true,
        });
    }

    public Channel<T> Channel { get; }
}

/// <summary>The channel between capture and inspection: the capture stage waits for room (triggered part) or drops (free-running frame).</summary>
/// <param name="capacity">Frames that may wait for inspection; small, so latency stays bounded.</param>
public sealed class FrameChannel(int capacity = 4) : StageChannel<Frame>(capacity);

/// <summary>
/// Stage 1: frames from the source into the channel. A triggered part waits for room (back-pressure reaches the
/// source; a part is never dropped); a free-running frame is dropped and counted when the station is behind.
/// </summary>
public sealed class CaptureStage(IFrameSource source, FrameChannel channel, StationEngine engine, ILogger<CaptureStage> log) : BackgroundService
{
    /// <summary>Reads in a row that may fail before the source counts as broken and the stage fails (the host then exits non-zero).</summary>
    public const int MaxConsecutiveFailures = 50;

    /// <inheritdoc/>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var writer = channel.Channel.Writer;
        var heartbeat = engine.Heartbeat;
        var failures = 0;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                // A free-running camera owes the next frame; a triggered source may rightly wait for the next part.
                if (!source.Triggered) heartbeat.Busy(PipelineStage.Capture);
                Frame? frame;
                try { frame = await source.ReadAsync(stoppingToken); }
                catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
                {
                    Interlocked.Increment(ref engine.Counters.CaptureFaults);
                    if (++failures >= MaxConsecutiveFailures) throw;
                    engine.Faults.Fault("capture", $"{source.Name}: read failed ({failures} in a row): {e.Message}", e);
                    continue;
                }
                failures = 0;
                if (frame is null) { log.LogInformation("source {Source} ended", source.Name); break; }
                heartbeat.Busy(PipelineStage.Capture);
                engine.Telemetry.FrameCaptured();
                if (source.Triggered) await writer.WriteAsync(frame, stoppingToken);
                else if (!writer.TryWrite(frame)) { engine.Counters.CountDrop(); engine.Telemetry.FrameDropped(); frame.Dispose(); }
                heartbeat.Idle(PipelineStage.Capture);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
        finally
        {
            heartbeat.Idle(PipelineStage.Capture);
            writer.TryComplete();
        }
    }
}

/// <summary>The channel between inspection and the record stage: decided parts waiting to be stored; inspection waits when it is full.</summary>
/// <param name="capacity">
/// Decided parts that may wait for their group commit. Small: they are acted on but not yet durable, and each
/// holds its frame.
/// </param>
public sealed class RecordChannel(int capacity = 8) : StageChannel<DecidedPart>(capacity);

/// <summary>
/// Stage 2: inspection, policy and actuation, one part at a time; the decided part goes to the record stage, so
/// the next frame is inspected while this one's record is written (the store's fsync stays off the frame's path).
/// </summary>
public sealed class InspectionStage(FrameChannel channel, RecordChannel records, StationEngine engine, ILogger<InspectionStage> log) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var reader = channel.Channel.Reader;
        var writer = records.Channel.Writer;
        try
        {
            // Drain what was captured even after stop is requested: every triggered part gets a record.
            while (await reader.WaitToReadAsync(CancellationToken.None))
            {
                while (reader.TryRead(out var frame))
                {
                    engine.Heartbeat.Busy(PipelineStage.Inspection);
                    DecidedPart part;
                    try { part = engine.Decide(frame); }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        // Every part gets a record: one that could not be decided fails safe with the reason.
                        log.LogDebug(e, "part {Part} could not be decided", frame.PartId);
                        part = engine.FailSafe(frame, "could not be decided: " + e.Message);
                    }
                    await writer.WriteAsync(part, CancellationToken.None); // the record stage disposes the frame
                    engine.Heartbeat.Idle(PipelineStage.Inspection);
                }
            }
        }
        finally { writer.TryComplete(); }
    }
}

/// <summary>
/// Stage 3: decided parts into the durable store. Whatever is waiting is committed together (one fsync for the
/// group, ARCHITECTURE.md's group commit), then counted, paired, reported to telemetry and the observer.
/// </summary>
public sealed class RecordStage(RecordChannel records, StationEngine engine, ILogger<RecordStage> log, StationOptions? options = null, TimeProvider? time = null)
    : BackgroundService
{
    private readonly TimeSpan _window = options?.GroupCommitWindow ?? TimeSpan.Zero;
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    private const int MaxGroup = 32;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var reader = records.Channel.Reader;
        var group = new List<DecidedPart>(MaxGroup);
        // Drain until inspection completes the channel, even after stop is requested: every decided part is stored.
        while (await reader.WaitToReadAsync(CancellationToken.None))
        {
            while (group.Count < MaxGroup && reader.TryRead(out var part)) group.Add(part);
            if (_window > TimeSpan.Zero && group.Count < MaxGroup) await GatherAsync(reader, group);
            engine.Heartbeat.Busy(PipelineStage.Record);
            try { engine.Commit(group); }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // The store refused the group (disk full, I/O error): counted, logged, audited; the station keeps running.
                log.LogDebug(e, "group commit failed");
                engine.CommitFailed(group, e);
            }
            finally
            {
                foreach (var p in group) p.Frame.Dispose();
                group.Clear();
                engine.Heartbeat.Idle(PipelineStage.Record);
            }
        }
        StoreHeldRecordsAtStop();
        try { engine.SaveSequence(); }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The records carry their sequence; the next start reads the highest stored one.
            log.LogWarning("the sequence counter could not be saved at stop: {Error}", e.Message);
        }
    }

    /// <summary>
    /// The records held while the store refused writes (a full disk) live only in memory: one last try to store them,
    /// and when the store still refuses, an error that counts and names them rather than a silent loss at exit.
    /// </summary>
    private void StoreHeldRecordsAtStop()
    {
        var held = engine.UnstoredRecords;
        if (held == 0) return;
        try
        {
            engine.Commit([]);
            log.LogWarning("{Held} records held while the store refused writes were stored at stop", held);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            log.LogCritical("{Held} decided parts were never stored and are lost at stop ({Sequences}): the store still refuses writes: {Error}",
                held, engine.UnstoredSequences, e.Message);
        }
    }

    /// <summary>Adds parts that arrive within the group-commit window (or until the group is full or the channel ends).</summary>
    private async Task GatherAsync(ChannelReader<DecidedPart> reader, List<DecidedPart> group)
    {
        using var window = new CancellationTokenSource(_window, _time);
        try
        {
            while (group.Count < MaxGroup && await reader.WaitToReadAsync(window.Token))
            {
                while (group.Count < MaxGroup && reader.TryRead(out var part)) group.Add(part);
            }
        }
        catch (OperationCanceledException) when (window.IsCancellationRequested) { /* the window closed: commit what came */ }
    }
}
