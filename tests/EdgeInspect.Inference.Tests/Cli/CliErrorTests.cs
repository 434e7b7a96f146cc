using Edgeinspect = EdgeInspect.Inference.Tests.Packages.Cli;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Inference.Tests.Cli;

/// <summary>
/// The CLI's one error path: a bad option value, a bad package and a missing file each give exactly one
/// "error:" line naming the option or file, and the documented exit code (2 bad input; 1 a run that found problems).
/// </summary>
public sealed class CliErrorTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-cli-errors-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A package folder whose manifest is not JSON.</summary>
    private string BadPackage()
    {
        var dir = Path.Combine(_dir, "bad-package");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "manifest.json"), "name: yaml-not-json\n");
        return dir;
    }

    /// <summary>A one-image folder-per-class dataset.</summary>
    private string Dataset()
    {
        var ok = Path.Combine(_dir, "dataset", "ok");
        Directory.CreateDirectory(ok);
        var golden = Directory.EnumerateFiles(Path.Combine(RepoPaths.Root, "models", "virtual-line", "golden")).First();
        File.Copy(golden, Path.Combine(ok, Path.GetFileName(golden)));
        return Path.GetDirectoryName(ok)!;
    }

    private static string OneErrorLine(int expectedCode, (int Code, string Out, string Err) run, string names)
    {
        Assert.Equal(expectedCode, run.Code);
        var line = Assert.Single(run.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: ", line, StringComparison.Ordinal);
        Assert.Contains(names, line, StringComparison.Ordinal);
        return line;
    }

    [Fact]
    public void Detect_UnknownProvider_Exit2NamingOption()
    {
        var line = OneErrorLine(2, Edgeinspect.Run("detect", "--model", _dir, "--providers", "tensorrt,gpu", "x.png"), "--providers");
        Assert.Contains("'gpu'", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Detect_LanesOutOfRange_Exit2NamingOption() =>
        OneErrorLine(2, Edgeinspect.Run("detect", "--model", _dir, "--lanes", "99", "x.png"), "--lanes");

    [Fact]
    public void Detect_ManifestNotJson_Exit2NamingManifest() =>
        OneErrorLine(2, Edgeinspect.Run("detect", "--model", BadPackage(), "x.png"), "manifest.json: not JSON");

    [Fact]
    public void Detect_ThreadsNotANumber_ParseErrorExit2() =>
        OneErrorLine(2, Edgeinspect.Run("detect", "--model", _dir, "--threads", "many", "x.png"), "--threads");

    [Fact]
    public void ModelCheck_UnknownOption_ParseErrorExit2() =>
        OneErrorLine(2, Edgeinspect.Run("model", "check", "--model", _dir, "--no-such-option"), "--no-such-option");

    [Fact]
    public void Eval_ApFloorOutOfRange_Exit2NamingOption() =>
        OneErrorLine(2, Edgeinspect.Run("eval", "--model", _dir, "--dataset", _dir, "--ap-floor", "2"), "--ap-floor");

    [Fact]
    public void Eval_ManifestNotJson_Exit2NamingManifest() =>
        OneErrorLine(2, Edgeinspect.Run("eval", "--model", BadPackage(), "--dataset", Dataset()), "manifest.json: not JSON");

    [Fact]
    public void Eval_MissingDataset_Exit2NamingFolder()
    {
        var missing = Path.Combine(_dir, "no-such-dataset");
        OneErrorLine(2, Edgeinspect.Run("eval", "--model", _dir, "--dataset", missing), missing);
    }

    [Fact]
    public void ModelCheck_UnknownProvider_Exit2NamingOption() =>
        OneErrorLine(2, Edgeinspect.Run("model", "check", "--model", _dir, "--providers", "npu"), "--providers");

    [Fact]
    public void ModelCheck_ManifestNotJson_Exit2NamingManifest() =>
        OneErrorLine(2, Edgeinspect.Run("model", "check", "--model", BadPackage()), "manifest.json: not JSON");

    [Fact]
    public void ModelCheck_MissingPackageFolder_Exit2NamingIt()
    {
        var missing = Path.Combine(_dir, "no-such-package");
        OneErrorLine(2, Edgeinspect.Run("model", "check", "--model", missing), missing);
    }

    [Fact]
    public void ModelCheck_MissingNetworkFile_Exit2NamingFileAndField()
    {
        var dir = Path.Combine(_dir, "copy");
        var source = Path.Combine(RepoPaths.Root, "models", "virtual-line");
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(dir, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        File.Delete(Path.Combine(dir, "classifier.onnx"));

        var line = OneErrorLine(2, Edgeinspect.Run("model", "check", "--model", dir), "classifier.onnx");
        Assert.Contains("classifier.file", line, StringComparison.Ordinal);
    }
}
