namespace EdgeInspect.Core.Packages;

/// <summary>A model package that cannot be used; the message names the file and the problem.</summary>
public sealed class ModelPackageException : Exception
{
    /// <summary>A problem of <paramref name="kind"/> with <paramref name="path"/>; the message is "path: problem".</summary>
    public ModelPackageException(PackageProblem kind, string path, string problem) : base($"{path}: {problem}")
    {
        Kind = kind;
        FilePath = path;
        Problem = problem;
    }

    /// <summary>A manifest field problem (<see cref="PackageProblem.Schema"/>) with <paramref name="path"/>.</summary>
    public ModelPackageException(string path, string problem) : this(PackageProblem.Schema, path, problem) { }

    /// <summary>An unspecified problem.</summary>
    public ModelPackageException() { FilePath = ""; Problem = ""; }

    /// <summary>A problem whose message names no single file.</summary>
    public ModelPackageException(string message) : base(message) { FilePath = ""; Problem = message; }

    /// <summary>A problem whose message names no single file, with its cause.</summary>
    public ModelPackageException(string message, Exception inner) : base(message, inner) { FilePath = ""; Problem = message; }

    /// <summary>What kind of problem, for mapping onto exit and refusal codes.</summary>
    public PackageProblem Kind { get; } = PackageProblem.Schema;

    /// <summary>Full path of the file (or folder) at fault; empty when none.</summary>
    public string FilePath { get; }

    /// <summary>The message without the path in front.</summary>
    public string Problem { get; }

    /// <summary>The message with the path relative to <paramref name="folder"/> ("classifier.onnx: ..."), for reports that leave the device.</summary>
    public string MessageRelativeTo(string folder)
    {
        if (FilePath.Length == 0) return Message;
        var relative = Path.GetRelativePath(Path.GetFullPath(folder), FilePath).Replace(Path.DirectorySeparatorChar, '/');
        return $"{relative}: {Problem}";
    }
}
