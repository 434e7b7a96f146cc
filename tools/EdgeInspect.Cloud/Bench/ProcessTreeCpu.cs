using System.Globalization;

namespace EdgeInspect.Cloud.Bench;

/// <summary>
/// CPU time of a process and all its descendants, read from Linux's <c>/proc/&lt;pid&gt;/stat</c> (proc(5): utime,
/// stime, cutime, cstime in clock ticks). A descendant that exited and was reaped during a measurement is counted
/// through its parent's cutime / cstime, so a PostgreSQL backend that comes and goes is not lost. Other systems read
/// zero.
/// </summary>
internal sealed class ProcessTreeCpu(string name, int rootPid)
{
    /// <summary>USER_HZ: the unit of the stat file's times on every Linux architecture .NET runs on.</summary>
    private const double TicksPerSecond = 100;

    public string Name { get; } = name;
    public int RootPid { get; } = rootPid;

    /// <summary>CPU time of the tree now (live processes' own time, plus what each has reaped from its children).</summary>
    public TimeSpan Read()
    {
        var stats = ReadAll();
        var tree = new HashSet<int> { RootPid };
        // Parents before children is not guaranteed by pid order, so widen until nothing joins.
        bool grew;
        do
        {
            grew = false;
            foreach (var (pid, s) in stats)
            {
                if (!tree.Contains(pid) && tree.Contains(s.Parent)) grew = tree.Add(pid) | grew;
            }
        }
        while (grew);
        long ticks = 0;
        foreach (var pid in tree)
        {
            if (stats.TryGetValue(pid, out var s)) ticks += s.Ticks;
        }
        return TimeSpan.FromSeconds(ticks / TicksPerSecond);
    }

    /// <summary>This process's own CPU time (its children excluded), as the stat file counts it.</summary>
    public static TimeSpan Own(int pid) =>
        Stat(pid) is { } s ? TimeSpan.FromSeconds(s.OwnTicks / TicksPerSecond) : TimeSpan.Zero;

    /// <summary>Parses <c>NAME=PID</c> (<c>--cpu-of postgres=6191</c>).</summary>
    public static ProcessTreeCpu Parse(string value)
    {
        var eq = value.IndexOf('=', StringComparison.Ordinal);
        if (eq < 1 || !int.TryParse(value.AsSpan(eq + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || pid < 1)
        {
            throw new ArgumentException($"--cpu-of '{value}': expected NAME=PID (e.g. postgres=6191)");
        }
        if (!File.Exists($"/proc/{pid}/stat")) throw new ArgumentException($"--cpu-of '{value}': no process {pid} in /proc");
        return new ProcessTreeCpu(value[..eq], pid);
    }

    private static Dictionary<int, ProcStat> ReadAll()
    {
        var all = new Dictionary<int, ProcStat>();
        if (!Directory.Exists("/proc")) return all;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            if (Stat(pid) is { } s) all[pid] = s;
        }
        return all;
    }

    private static ProcStat? Stat(int pid)
    {
        string text;
        try { text = File.ReadAllText($"/proc/{pid}/stat"); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; } // exited meanwhile
        // The command name (field 2) is in parentheses and may hold spaces: the fields that follow start after the last ')'.
        var close = text.LastIndexOf(')');
        if (close < 0) return null;
        var f = text[(close + 2)..].Split(' ');
        if (f.Length < 15) return null;
        static long L(string s) => long.Parse(s, CultureInfo.InvariantCulture);
        // after ')': [0] state, [1] ppid, ... [11] utime, [12] stime, [13] cutime, [14] cstime
        return new ProcStat(int.Parse(f[1], CultureInfo.InvariantCulture), L(f[11]) + L(f[12]), L(f[13]) + L(f[14]));
    }

    private readonly record struct ProcStat(int Parent, long OwnTicks, long ReapedTicks)
    {
        public long Ticks => OwnTicks + ReapedTicks;
    }
}
