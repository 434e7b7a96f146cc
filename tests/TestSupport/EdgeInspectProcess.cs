using System.Diagnostics;

namespace EdgeInspect.TestSupport;

/// <summary>Runs the built <c>edgeinspect</c> (dotnet edgeinspect.dll from the test's own output folder) as a child process.</summary>
public static class EdgeInspectProcess
{
    /// <summary>edgeinspect.dll, copied beside the test assembly by the project reference to EdgeInspect.Cli.</summary>
    public static string DllPath
    {
        get
        {
            var path = Path.Combine(AppContext.BaseDirectory, "edgeinspect.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException("edgeinspect.dll not beside the tests", path);
        }
    }

    public static Process Start(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(DllPath);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return Process.Start(psi) ?? throw new InvalidOperationException("dotnet did not start");
    }

    /// <summary>
    /// Runs <c>edgeinspect</c> until <paramref name="done"/> holds (polled twice a second) or <paramref name="limit"/>
    /// passes, then sends SIGTERM (what systemd sends) and waits up to 60 s for it to stop. A fixed run time is too
    /// short under load: one CI run under a load average of 40 stored no part in 10 s. With a zero limit the process
    /// is left to exit by itself.
    /// <para>
    /// Not SIGINT: a test run launched from a non-interactive shell's background job inherits SIGINT as ignored, and
    /// .NET keeps an inherited "ignore" (as nohup expects), so the child would never see it.
    /// </para>
    /// </summary>
    public static async Task<(int Code, string Out, string Err)> RunUntilAsync(Func<bool> done, TimeSpan limit, params string[] args)
    {
        using var p = Start(args);
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        var until = DateTime.UtcNow + limit;
        while (limit > TimeSpan.Zero && !p.HasExited && DateTime.UtcNow < until && !done()) await Task.Delay(500);
        if (limit > TimeSpan.Zero && !p.HasExited) await TerminateAsync(p);
        if (!p.WaitForExit(TimeSpan.FromSeconds(60))) { p.Kill(true); throw new TimeoutException("edgeinspect did not stop within 60 s of SIGTERM"); }
        return (p.ExitCode, await stdout, await stderr);
    }

    /// <summary>
    /// Sends SIGTERM, what systemd sends to stop a service (the host treats it like Ctrl-C), and returns without
    /// waiting for the process to exit. Not SIGINT: see <see cref="RunUntilAsync"/>.
    /// </summary>
    public static async Task TerminateAsync(Process process)
    {
        using var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        if (kill is not null) await kill.WaitForExitAsync();
    }
}
