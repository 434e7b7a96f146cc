using System.Text;
using EdgeInspect.Core.Packages;
using Xunit;

namespace EdgeInspect.Core.Tests.Packages;

/// <summary>The one package loader (<see cref="ModelPackage.Open(string)"/> over <see cref="ManifestReader"/>): what it accepts and the kind of each refusal.</summary>
public sealed class PackageLoaderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("edgeinspect-loader-").FullName;

    public PackageLoaderTests()
    {
        File.WriteAllText(Path.Combine(_dir, "classifier.onnx"), "classifier bytes");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Sha => ModelPackageValidator.Sha256Of(Path.Combine(_dir, "classifier.onnx"));

    private string Manifest(string file = "classifier.onnx", string? sha = null, string classes = "[\"ok\", \"scratch\"]") => $$"""
        {
          // hand-edited: comments and trailing commas are accepted by every entry
          "schema": 1,
          "name": "loader-test",
          "version": 2,
          "classifier": {
            "file": "{{file}}",
            "sha256": "{{sha ?? Sha}}",
            "input": { "name": "input", "width": 32, "height": 32, "layout": "NCHW", },
            "output": "probs",
            "classes": {{classes}},
          },
        }
        """;

    private void Write(string text) => File.WriteAllText(Path.Combine(_dir, "manifest.json"), text);

    private ModelPackageException Refused() => Assert.Throws<ModelPackageException>(() => ModelPackage.Open(_dir));

    [Fact]
    public void Open_ManifestWithCommentsAndTrailingCommas_Accepted()
    {
        Write(Manifest());

        var package = ModelPackage.Open(_dir);

        Assert.Equal("loader-test", package.Manifest.Name);
        Assert.Equal(["ok", "scratch"], package.Manifest.Classifier!.Classes);
    }

    [Fact]
    public void Parse_ByteOrderMark_Accepted()
    {
        var bytes = Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes(Manifest())).ToArray();

        Assert.Equal(2, ManifestReader.Parse(bytes, "manifest.json").Version);
    }

    [Fact]
    public void Open_MissingFolder_FolderNotFound()
    {
        var e = Assert.Throws<ModelPackageException>(() => ModelPackage.Open(Path.Combine(_dir, "absent")));
        Assert.Equal(PackageProblem.FolderNotFound, e.Kind);
    }

    [Fact]
    public void Read_NoManifest_MissingManifest()
    {
        var e = Assert.Throws<ModelPackageException>(() => ManifestReader.Read(_dir));
        Assert.Equal(PackageProblem.MissingManifest, e.Kind);
        Assert.EndsWith("manifest.json", e.FilePath, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_NotJson_NotJsonNamingLine()
    {
        Write("name: yaml\nversion: 2\n");
        var e = Refused();
        Assert.Equal(PackageProblem.NotJson, e.Kind);
        Assert.StartsWith("not JSON: line 1", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_FieldOfWrongType_SchemaNamingJsonPath()
    {
        Write(Manifest(classes: "\"scratch\""));
        var e = Refused();
        Assert.Equal(PackageProblem.Schema, e.Kind);
        Assert.Contains("$.classifier.classes", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_EmptyClasses_SchemaNamingField()
    {
        Write(Manifest(classes: "[]"));
        var e = Refused();
        Assert.Equal(PackageProblem.Schema, e.Kind);
        Assert.Equal("classifier.classes: empty", e.Problem);
    }

    [Fact]
    public void Open_NamedFileAbsent_MissingFileNamingIt()
    {
        Write(Manifest(file: "other.onnx"));
        var e = Refused();
        Assert.Equal(PackageProblem.MissingFile, e.Kind);
        Assert.EndsWith("other.onnx", e.FilePath, StringComparison.Ordinal);
        Assert.Contains("classifier.file", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_FileChanged_HashMismatchNamingFileAndField()
    {
        Write(Manifest(sha: new string('0', 64)));
        var e = Refused();
        Assert.Equal(PackageProblem.HashMismatch, e.Kind);
        Assert.Equal("classifier.onnx: ", e.MessageRelativeTo(_dir)[..17]);
        Assert.Contains("classifier.sha256", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_FileOutsideFolder_UnsafePath()
    {
        Write(Manifest(file: "../classifier.onnx"));
        Assert.Equal(PackageProblem.UnsafePath, Refused().Kind);
    }
}
