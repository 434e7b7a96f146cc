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
}
