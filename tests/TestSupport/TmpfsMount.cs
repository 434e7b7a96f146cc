using System.Diagnostics;

namespace EdgeInspect.TestSupport;

/// <summary>
/// A small tmpfs mounted on a fresh temp folder, to fill a real file system for disk-full tests; unmounted on dispose.
/// Needs root (CI runs as root on Debian); <see cref="MissingReason"/> says why it cannot be mounted elsewhere.
/// </summary>
public sealed class TmpfsMount : IDisposable
{
    private static readonly Lazy<string?> Probe = new(() =>
    {
        try
        {
            using var probe = new TmpfsMount(64 * 1024);
            return null;
        }
        catch (InvalidOperationException e)
        {
            return e.Message;
        }
    });

    /// <summary>Mounts a tmpfs of <paramref name="sizeBytes"/> (rounded up to pages by the kernel).</summary>
    public TmpfsMount(long sizeBytes)
    {
        Folder = Directory.CreateTempSubdirectory("edgeinspect-tmpfs-").FullName;
        var (code, output) = Run("mount", "-t", "tmpfs", "-o", $"size={sizeBytes}", "tmpfs", Folder);
        if (code != 0)
        {
            Directory.Delete(Folder);
            throw new InvalidOperationException($"mount -t tmpfs failed ({code}): {output.Trim()}");
        }
    }

    /// <summary>Null where a tmpfs can be mounted; otherwise why not (a test's skip reason).</summary>
    public static string? MissingReason => Probe.Value is { } e ? $"needs permission to mount a tmpfs (root): {e}" : null;

    /// <summary>The mount point.</summary>
    public string Folder { get; }

    /// <summary>Writes zeros to <paramref name="path"/> until the file system is full; returns the bytes written.</summary>
    public static long Fill(string path)
    {
        var block = new byte[4096];
        long written = 0;
        using var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1);
        try
        {
            while (true)
            {
                f.Write(block);
                written += block.Length;
            }
        }
        catch (IOException) { /* full */ }
        return written;
    }

    public void Dispose()
    {
        Run("umount", "-l", Folder);
        try { Directory.Delete(Folder, true); } catch (IOException) { }
    }

    private static (int Code, string Output) Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        try
        {
            using var p = Process.Start(start)!;
            var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
            p.WaitForExit();
            return (p.ExitCode, output);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }
}

/// <summary>A fact that needs <see cref="TmpfsMount"/>; skipped, with the reason, where a tmpfs cannot be mounted.</summary>
public sealed class TmpfsFactAttribute : Xunit.FactAttribute
{
    public TmpfsFactAttribute()
    {
        if (TmpfsMount.MissingReason is { } reason) Skip = reason;
    }
}
