using System.Diagnostics;

namespace EdgeInspect.TestSupport;

/// <summary>Debian's /usr/bin/python3 with python3-torch, python3-onnx and python3-opencv: what tools/train needs.</summary>
public static class TrainingPython
{
    public const string Path = "/usr/bin/python3";
    private static readonly Lazy<string?> Missing = new(Probe);

    /// <summary>Why the training toolchain cannot run here (a skip reason), or null when it can.</summary>
    public static string? MissingReason => Missing.Value;

    private static string? Probe()
    {
        if (!File.Exists(Path)) return $"needs {Path} (Debian python3 with python3-torch, python3-onnx, python3-opencv)";
        try
        {
            using var p = Process.Start(new ProcessStartInfo(Path, ["-c", "import torch, onnx, cv2, numpy"])
            {
                RedirectStandardError = true,
                RedirectStandardOutput = true,
            })!;
            p.WaitForExit(60_000);
            return p.ExitCode == 0 ? null : $"{Path} lacks torch/onnx/cv2 (apt-get install python3-torch python3-onnx python3-opencv)";
        }
        catch (Exception e)
        {
            return $"{Path} did not run: {e.Message}";
        }
    }
}
