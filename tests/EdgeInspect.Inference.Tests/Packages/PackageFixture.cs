using System.Diagnostics;
using System.Text.Json.Nodes;
using EdgeInspect.TestSupport;

namespace EdgeInspect.Inference.Tests.Packages;

/// <summary>A writable copy of a committed package (models/NAME) in a temp folder, to damage in a test.</summary>
public sealed class PackageCopy : IDisposable
{
    public PackageCopy(string name)
    {
        Source = Path.Combine(RepoPaths.Root, "models", name);
        Dir = Directory.CreateTempSubdirectory("edgeinspect-pkg-").FullName;
        foreach (var file in Directory.EnumerateFiles(Source, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(Dir, Path.GetRelativePath(Source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }

    public string Source { get; }
    public string Dir { get; }
    public string ManifestPath => Path.Combine(Dir, "manifest.json");

    public void EditManifest(Action<JsonNode> edit)
    {
        var node = JsonNode.Parse(File.ReadAllText(ManifestPath))!;
        edit(node);
        File.WriteAllText(ManifestPath, node.ToJsonString());
    }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

/// <summary>Runs the built edgeinspect CLI (copied beside the tests by the project reference) as a child process.</summary>
public static class Cli
{
    public static (int ExitCode, string Stdout, string Stderr) Run(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "edgeinspect.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(240_000))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("edgeinspect " + string.Join(' ', args) + " did not finish in 240 s");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }
}

/// <summary>A fact that needs a committed package under models/; skipped with the reason while it is absent.</summary>
public sealed class PackageFactAttribute : Xunit.FactAttribute
{
    public PackageFactAttribute(string name, string? sharedPath = null)
    {
        if (!File.Exists(Path.Combine(RepoPaths.Root, "models", name, "manifest.json")))
        {
            Skip = $"needs models/{name}/manifest.json (train it with tools/train/train.py, see tools/train/README.md)";
        }
        else if (sharedPath is not null && (RepoPaths.Shared is not { } shared || !Path.Exists(Path.Combine(shared, sharedPath))))
        {
            Skip = $"needs ../shared/{sharedPath} beside the repository (absent here)";
        }
    }
}
