using System.Text.Json;

namespace EdgeInspect.Core.Packages;

/// <summary>
/// The one reader of manifest.json, used by every entry that opens a package (CLI verbs, station, fleet verifier
/// and builder), so a manifest accepted by one is accepted by all. Comments and trailing commas are accepted: the
/// shipped manifests and profiles are edited by hand. The fleet signature still covers the exact bytes.
/// </summary>
public static class ManifestReader
{
    /// <summary>The manifest file's name inside a package folder.</summary>
    public const string FileName = "manifest.json";

    /// <summary>Serializer options for reading and writing manifests: camelCase, comments and trailing commas allowed.</summary>
    public static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        PropertyNameCaseInsensitive = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
    };

    /// <summary>The syntax the reader accepts, as document options (same comment and comma rules as <see cref="JsonOptions"/>).</summary>
    public static readonly JsonDocumentOptions DocumentOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    /// <summary>Reads <see cref="FileName"/> of <paramref name="packageDir"/>; see <see cref="Parse"/>.</summary>
    public static ModelManifest Read(string packageDir)
    {
        var path = Path.Combine(packageDir, FileName);
        if (!File.Exists(path)) throw new ModelPackageException(PackageProblem.MissingManifest, path, "manifest not found");
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelPackageException(PackageProblem.MissingManifest, path, $"cannot be read ({e.Message})");
        }
        return Parse(bytes, path);
    }

    /// <summary>
    /// Parses manifest bytes and checks the header every package needs (schema 1, a name, a positive version, a
    /// detector or a classifier). Syntax errors are <see cref="PackageProblem.NotJson"/>; a field of the wrong type
    /// or a bad header is <see cref="PackageProblem.Schema"/>, naming the field.
    /// </summary>
    /// <param name="path">Where the bytes came from, for the messages.</param>
    public static ModelManifest Parse(ReadOnlyMemory<byte> bytes, string path)
    {
        // A byte-order mark is what some editors put in front of UTF-8; the JSON reader does not skip it.
        if (bytes.Span.StartsWith("\uFEFF"u8)) bytes = bytes[3..];
        try
        {
            using var _ = JsonDocument.Parse(bytes, DocumentOptions);
        }
        catch (JsonException e)
        {
            throw new ModelPackageException(PackageProblem.NotJson, path, $"not JSON: line {(e.LineNumber ?? 0) + 1}: {FirstSentence(e.Message)}");
        }
        ModelManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<ModelManifest>(bytes.Span, JsonOptions);
        }
        catch (JsonException e)
        {
            // System.Text.Json's Path is "$.detector.stages[0].threshold": the field a person has to fix.
            throw new ModelPackageException(PackageProblem.Schema, path, $"field {e.Path ?? "$"} has the wrong type: {FirstSentence(e.Message)}");
        }
        if (manifest is null) throw new ModelPackageException(PackageProblem.Schema, path, "manifest is null");
        CheckHeader(manifest, path);
        return manifest;
    }

    /// <summary>The fields every package needs before anything else is read from it.</summary>
    internal static void CheckHeader(ModelManifest m, string path)
    {
        void Fail(string field, string problem) => throw new ModelPackageException(PackageProblem.Schema, path, $"{field}: {problem}");
        if (m.Schema != 1) Fail("schema", $"version {m.Schema} is not supported (this runtime reads 1)");
        if (string.IsNullOrWhiteSpace(m.Name)) Fail("name", "missing");
        if (m.Version <= 0) Fail("version", $"must be a positive integer, got {m.Version}");
        if (m.Detector is null && m.Classifier is null) Fail("detector", "a package needs a detector, a classifier or both");
    }

    private static string FirstSentence(string message)
    {
        var line = message.Split('\n')[0].TrimEnd();
        int i = line.IndexOf(". ", StringComparison.Ordinal);
        return i > 0 ? line[..i] : line.TrimEnd('.');
    }
}
