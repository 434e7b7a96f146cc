using System.Globalization;

namespace EdgeInspect.Station.Capture;

/// <summary>
/// The file name of a kept image: "&lt;sequence&gt;_&lt;reason&gt;_&lt;captured unix ms&gt;.jpg" inside a folder named after the
/// store epoch. The name carries everything the upload needs, so no index has to be kept in step with the folder.
/// </summary>
public static class PartImageName
{
    /// <summary>The reasons as written in file names and sent to the cloud, indexed by <see cref="CaptureReason"/>.</summary>
    public static readonly string[] ReasonNames = ["sample", "lowconfidence", "failsafe", "disagreement"];

    /// <summary>The file name for a part.</summary>
    public static string Format(long sequence, CaptureReason reason, DateTimeOffset capturedAt) =>
        string.Create(CultureInfo.InvariantCulture, $"{sequence:D12}_{ReasonNames[(int)reason]}_{capturedAt.ToUnixTimeMilliseconds()}.jpg");

    /// <summary>Reads a name written by <see cref="Format"/>; false for anything else (a temporary file, a stray file).</summary>
    public static bool TryParse(string fileName, out long sequence, out CaptureReason reason, out DateTimeOffset capturedAt)
    {
        sequence = 0;
        reason = default;
        capturedAt = default;
        if (!fileName.EndsWith(".jpg", StringComparison.Ordinal)) return false;
        var parts = fileName[..^4].Split('_');
        if (parts.Length != 3) return false;
        var r = Array.IndexOf(ReasonNames, parts[1]);
        if (r < 0 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out sequence)
            || !long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var ms)) return false;
        reason = (CaptureReason)r;
        capturedAt = DateTimeOffset.FromUnixTimeMilliseconds(ms);
        return true;
    }
}
