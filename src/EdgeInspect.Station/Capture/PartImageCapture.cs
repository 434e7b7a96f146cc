using System.Threading.Channels;
using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;

namespace EdgeInspect.Station.Capture;

/// <summary>
/// The record stage's side of image capture. Before a part's record is stored, <see cref="Reserve"/> asks the policy
/// and takes a place in the bounded encode queue, so the record names its image only when the image can be kept;
/// after the record is durable, <see cref="Enqueue"/> copies the pixels (a pooled buffer) into that place. Encoding
/// and writing happen on <see cref="PartImageWriter"/>'s thread: the line never waits for JPEG or the disk. A part
/// selected while the queue is full is not kept, and counted in <see cref="DroppedQueueFull"/>.
/// <para>Called by the record stage's one thread; the counters are read from anywhere.</para>
/// </summary>
public sealed class PartImageCapture
{
    private readonly CapturePolicy _policy;
    private readonly Channel<CaptureJob> _jobs;
    private readonly int _capacity;
    private int _reserved;
    private long _selected;
    private long _dropped;

    /// <summary>A capture over <paramref name="options"/>.</summary>
    public PartImageCapture(CaptureOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        Options = options;
        _policy = new CapturePolicy(options);
        _capacity = options.QueueCapacity;
        // Room is reserved before a record names its image, so a write never finds the channel full.
        _jobs = Channel.CreateBounded<CaptureJob>(new BoundedChannelOptions(_capacity) { SingleReader = true, SingleWriter = true });
    }

    /// <summary>The options it runs with.</summary>
    public CaptureOptions Options { get; }

    /// <summary>Parts the policy selected since start.</summary>
    public long Selected => Interlocked.Read(ref _selected);

    /// <summary>Selected parts not kept because the encode queue was full.</summary>
    public long DroppedQueueFull => Interlocked.Read(ref _dropped);

    /// <summary>The writer's end of the queue.</summary>
    internal ChannelReader<CaptureJob> Jobs => _jobs.Reader;

    /// <summary>Ends the queue: the writer drains what is in it and stops.</summary>
    internal void Complete() => _jobs.Writer.TryComplete();

    /// <summary>
    /// The image reference for <paramref name="record"/> when its image is to be kept and there is room to keep it;
    /// null otherwise. A non-null result holds a place in the queue until <see cref="Enqueue"/> or <see cref="Release"/>.
    /// </summary>
    public string? Reserve(Frame frame, InspectionRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (_policy.Select(frame, record) is not { } reason) return null;
        Interlocked.Increment(ref _selected);
        if (Interlocked.Increment(ref _reserved) > _capacity)
        {
            Interlocked.Decrement(ref _reserved);
            Interlocked.Increment(ref _dropped);
            return null;
        }
        return PartImageName.Format(record.Sequence, reason, record.CapturedAt);
    }

    /// <summary>Copies the frame's pixels into the place <see cref="Reserve"/> took (after the record is stored).</summary>
    public void Enqueue(Frame frame, InspectionRecord record)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentNullException.ThrowIfNull(record);
        if (record.ImageRef is not { } name) return;
        var src = frame.Image;
        var copy = new ImageBuffer(src.Width, src.Height);
        src.Pixels.CopyTo(copy.Pixels);
        var job = new CaptureJob(copy, record.StoreEpoch, name);
        if (!_jobs.Writer.TryWrite(job))
        {
            // Only after Complete (the station is stopping): the record names an image that will not exist.
            job.Dispose();
            Release(record);
            Interlocked.Increment(ref _dropped);
        }
    }

    /// <summary>Gives back the place of a record that was not stored (the group commit failed).</summary>
    public void Release(InspectionRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (record.ImageRef is null) return;
        Interlocked.Decrement(ref _reserved);
        // The image will not be written: a record the engine holds and stores later must not name it.
        record.ImageRef = null;
    }

    /// <summary>The writer took a job out of the queue: its place is free again.</summary>
    internal void Taken() => Interlocked.Decrement(ref _reserved);
}
