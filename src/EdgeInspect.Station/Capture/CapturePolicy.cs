using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Station.VirtualLine;

namespace EdgeInspect.Station.Capture;

/// <summary>
/// Decides whether a stored part's image is worth keeping for training, and why. The most telling reason wins
/// (a fail-safe part that also disagreed is a disagreement). Called on the record stage's thread only; allocates
/// nothing.
/// </summary>
public sealed class CapturePolicy
{
    private readonly CaptureOptions _options;
    private SplitMix64 _random;

    /// <summary>A policy over <paramref name="options"/>; the sample's draws repeat for a fixed seed.</summary>
    public CapturePolicy(CaptureOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
        _random = new SplitMix64(options.Seed ?? (ulong)Random.Shared.NextInt64());
    }

    /// <summary>Why <paramref name="record"/>'s image should be kept, or null to keep none.</summary>
    public CaptureReason? Select(Frame frame, InspectionRecord record)
    {
        ArgumentNullException.ThrowIfNull(frame);
        ArgumentNullException.ThrowIfNull(record);
        if (!_options.Enabled || frame.Fault is not null) return null; // a part with no usable image has nothing to keep
        if (_options.Disagreements && record.Agreement == false) return CaptureReason.Disagreement;
        if (_options.FailSafe && record.VerdictSource == VerdictSource.FailSafe) return CaptureReason.FailSafe;
        if (record.ModelConfidence is { } c && c < _options.LowConfidenceBelow) return CaptureReason.LowConfidence;
        if (_options.AgreedSampleRate > 0 && _random.Chance(_options.AgreedSampleRate)) return CaptureReason.Sample;
        return null;
    }
}
