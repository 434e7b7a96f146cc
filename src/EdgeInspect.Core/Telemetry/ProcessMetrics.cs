using System.Diagnostics;
using System.Globalization;

namespace EdgeInspect.Core.Telemetry;

/// <summary>CPU, memory and temperature of the device, sampled once per telemetry interval.</summary>
public sealed record ProcessTelemetry(double? CpuPercent, int Cores, double WorkingSetMB, double GcHeapMB, double? TemperatureC);

/// <summary>
/// Samples the process's CPU use since the previous sample (percent of one core, as top shows it: 2 busy cores = 200),
/// its resident memory and managed heap, and the hottest readable thermal zone. Temperature comes from Linux's
/// thermal sysfs (<c>/sys/class/thermal/thermal_zone*/temp</c>, millidegrees Celsius, Documentation/driver-api/thermal/sysfs-api.rst);
/// where no zone is readable (containers, most x64 VMs) it is null, never a guess.
/// </summary>
public sealed class ProcessMetrics(TimeProvider time, string thermalRoot = "/sys/class/thermal")
{
    private TimeSpan _lastCpu;
    private long _lastTimestamp;

    public ProcessTelemetry Sample()
    {
        using var process = Process.GetCurrentProcess();
        var cpu = process.TotalProcessorTime;
        var now = time.GetTimestamp();
        double? cpuPercent = null;
        if (_lastTimestamp != 0)
        {
            var wall = time.GetElapsedTime(_lastTimestamp, now);
            if (wall > TimeSpan.Zero) cpuPercent = Math.Round((cpu - _lastCpu) / wall * 100, 1);
        }
        _lastCpu = cpu;
        _lastTimestamp = now;
        return new ProcessTelemetry(cpuPercent, Environment.ProcessorCount, Math.Round(process.WorkingSet64 / 1048576.0, 1),
            Math.Round(GC.GetTotalMemory(forceFullCollection: false) / 1048576.0, 1), ReadTemperature(thermalRoot));
    }

    /// <summary>The hottest thermal zone under <paramref name="root"/>, in degrees Celsius; null when none is readable.</summary>
    public static double? ReadTemperature(string root)
    {
        if (!Directory.Exists(root)) return null;
        double? hottest = null;
        foreach (var zone in Directory.EnumerateDirectories(root, "thermal_zone*"))
        {
            try
            {
                var text = File.ReadAllText(Path.Combine(zone, "temp")).Trim();
                if (long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var milli))
                {
                    var c = milli / 1000.0;
                    if (hottest is null || c > hottest) hottest = c;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // a zone whose sensor is off reads as an I/O error (EINVAL / ENODATA): skip it
            }
        }
        return hottest;
    }
}
