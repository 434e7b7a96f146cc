namespace EdgeInspect.TestSupport;

/// <summary>Finds the repository root (the folder holding EdgeInspect.sln) and ../shared beside it.</summary>
public static class RepoPaths
{
    private static readonly Lazy<string> RootLazy = new(FindRoot);

    public static string Root => RootLazy.Value;

    /// <summary>../shared beside the repository, or EDGEINSPECT_SHARED when set; null when absent.</summary>
    public static string? Shared
    {
        get
        {
            var env = Environment.GetEnvironmentVariable("EDGEINSPECT_SHARED");
            if (!string.IsNullOrEmpty(env) && Directory.Exists(env)) return env;
            var candidate = Path.GetFullPath(Path.Combine(Root, "..", "shared"));
            return Directory.Exists(candidate) ? candidate : null;
        }
    }

    public static string SharedPath(string relative) =>
        Path.Combine(Shared ?? throw new InvalidOperationException("../shared is absent"), relative);

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "EdgeInspect.sln")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("EdgeInspect.sln not found above " + AppContext.BaseDirectory);
    }
}
