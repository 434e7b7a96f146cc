using Xunit;

namespace EdgeInspect.TestSupport;

/// <summary>
/// A fact that needs a folder under ../shared; it is reported as skipped, with the reason, where that folder is absent.
/// </summary>
public sealed class SharedDataFactAttribute : FactAttribute
{
    public SharedDataFactAttribute(string relativePath)
    {
        var shared = RepoPaths.Shared;
        if (shared is null || !Path.Exists(Path.Combine(shared, relativePath)))
        {
            Skip = $"needs ../shared/{relativePath} beside the repository (absent here)";
        }
    }
}

/// <summary>A theory variant of <see cref="SharedDataFactAttribute"/>.</summary>
public sealed class SharedDataTheoryAttribute : TheoryAttribute
{
    public SharedDataTheoryAttribute(string relativePath)
    {
        var shared = RepoPaths.Shared;
        if (shared is null || !Path.Exists(Path.Combine(shared, relativePath)))
        {
            Skip = $"needs ../shared/{relativePath} beside the repository (absent here)";
        }
    }
}
