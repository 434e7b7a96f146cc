using System.Security.Cryptography;
using System.Text.Json;

namespace EdgeInspect.Core.Packages;

/// <summary>
/// Reads and checks a package's manifest.json against its folder: every field the runtime relies on,
/// every file present inside the package and matching its SHA-256. A device refuses a package that
/// fails any check, so a bad push never replaces a working model (ARCHITECTURE.md, "Model package").
/// </summary>
public static class ModelPackageValidator
{
    public const string ManifestFileName = ModelPackage.ManifestFileName;

    /// <summary>The manifest serializer options (<see cref="ManifestReader.JsonOptions"/>).</summary>
    public static JsonSerializerOptions JsonOptions => ManifestReader.JsonOptions;

    private static readonly string[] Layouts = ["NHWC", "NWHC", "NCHW"];
    private static readonly string[] ChannelOrders = ["RGB", "BGR", "GRAY"];
    private static readonly string[] RegressionWidths = ["exclusive", "inclusive"];
    // 256 crops more per frame would already cost an O-Net pass several times the cascade's usual one.
    private const int MaxFrameWindows = 256;

    /// <summary>Parses manifest.json through <see cref="ManifestReader"/>; a field of the wrong type is reported with its JSON path.</summary>
    public static ModelManifest ReadManifest(string packageDir) => ManifestReader.Read(packageDir);

    /// <summary>Reads, then validates; returns the manifest of a package that may be loaded.</summary>
    public static ModelManifest ReadAndValidate(string packageDir, bool verifyHashes = true)
    {
        var manifest = ReadManifest(packageDir);
        Validate(manifest, packageDir, verifyHashes);
        return manifest;
    }

    /// <summary>
    /// Checks every field, and every named file's presence and SHA-256, against <paramref name="packageDir"/>.
    /// Throws <see cref="ModelPackageException"/> whose <see cref="ModelPackageException.Kind"/> says which check failed.
    /// </summary>
    public static void Validate(ModelManifest m, string packageDir, bool verifyHashes = true)
    {
        ArgumentNullException.ThrowIfNull(m);
        string at = Path.Combine(packageDir, ManifestFileName);
        void Fail(string field, string problem) => throw new ModelPackageException(PackageProblem.Schema, at, $"{field}: {problem}");

        ManifestReader.CheckHeader(m, at);

        if (m.Detector is { } d)
        {
            if (d.Kind != "cascade") Fail("detector.kind", $"'{d.Kind}' is not a known detector kind (cascade)");
            if (d.Pyramid.MinSize <= 0) Fail("detector.pyramid.minSize", "must be > 0");
            if (d.Pyramid.ScaleFactor is <= 0 or >= 1) Fail("detector.pyramid.scaleFactor", "must be in (0, 1)");
            if (d.Pyramid.CellSize <= 0) Fail("detector.pyramid.cellSize", "must be > 0");
            if (d.Pyramid.Stride <= 0) Fail("detector.pyramid.stride", "must be > 0");
            if (d.Pyramid.MaxScales < 0) Fail("detector.pyramid.maxScales", "must be >= 0");
            if (d.Pyramid.Aspects is { } aspects)
            {
                if (aspects.Length is 0 or > 8) Fail("detector.pyramid.aspects", $"needs 1 to 8 values, got {aspects.Length}");
                foreach (var a in aspects)
                {
                    if (!float.IsFinite(a) || a < 0.0625f || a > 16) Fail("detector.pyramid.aspects", $"{a} is not a width / height ratio in [1/16, 16]");
                }
            }
            CheckNms(d.CrossScaleNms, "detector.crossScaleNms", Fail);
            if (d.Stages.Count == 0) Fail("detector.stages", "empty");
            if (d.FrameWindows is { } windows)
            {
                if (d.Stages.Count < 2) Fail("detector.frameWindows", "they are scored by the last refinement stage, and this cascade has none");
                if (windows.Length > MaxFrameWindows) Fail("detector.frameWindows", $"{windows.Length} windows, at most {MaxFrameWindows} (each is one more crop per frame)");
                for (int i = 0; i < windows.Length; i++)
                {
                    var w = windows[i];
                    if (w is not { Length: 4 } || !w.All(float.IsFinite) || w.Any(v => v is < 0 or > 1) || w[2] <= w[0] || w[3] <= w[1])
                        Fail($"detector.frameWindows[{i}]", "must be [x1, y1, x2, y2] as fractions of the frame in [0, 1], with x2 > x1 and y2 > y1");
                }
            }
            for (int i = 0; i < d.Stages.Count; i++)
            {
                var s = d.Stages[i];
                string f = $"detector.stages[{i}]";
                if (string.IsNullOrWhiteSpace(s.Name)) Fail($"{f}.name", "missing");
                CheckFile(packageDir, s.File, s.Sha256, $"{f}.file", verifyHashes, Fail);
                CheckInput(s.Input, $"{f}.input", fixedSize: i > 0, Fail);
                if (i == 0 && s.Input.CropMargin != 0) Fail($"{f}.input.cropMargin", "the first stage scans the pyramid, it is given no crops: must be 0");
                if (string.IsNullOrWhiteSpace(s.Outputs.Boxes)) Fail($"{f}.outputs.boxes", "missing");
                if (string.IsNullOrWhiteSpace(s.Outputs.Scores)) Fail($"{f}.outputs.scores", "missing");
                if (s.Threshold is < 0 or > 1) Fail($"{f}.threshold", $"must be in [0, 1], got {s.Threshold}");
                CheckNms(s.Nms, $"{f}.nms", Fail);
                if (!RegressionWidths.Contains(s.RegressionWidth)) Fail($"{f}.regressionWidth", $"'{s.RegressionWidth}' is not exclusive or inclusive");
            }
        }

        IReadOnlyList<string> classes = [];
        if (m.Classifier is { } c)
        {
            CheckFile(packageDir, c.File, c.Sha256, "classifier.file", verifyHashes, Fail);
            CheckInput(c.Input, "classifier.input", fixedSize: true, Fail);
            if (string.IsNullOrWhiteSpace(c.Output)) Fail("classifier.output", "missing");
            if (c.Classes.Count == 0) Fail("classifier.classes", "empty");
            if (c.Classes.Distinct(StringComparer.Ordinal).Count() != c.Classes.Count) Fail("classifier.classes", "names must be unique");
            if (c.Classes.Any(string.IsNullOrWhiteSpace)) Fail("classifier.classes", "a class name is empty");
            if (c.CropMargin is < 0 or > 2) Fail("classifier.cropMargin", $"must be in [0, 2], got {c.CropMargin}");
            if (c.CropMargin != 0 && c.Input.CropMargin != 0 && c.CropMargin != c.Input.CropMargin)
                Fail("classifier.cropMargin", $"{c.CropMargin} and classifier.input.cropMargin {c.Input.CropMargin} disagree: set one of them");
            if (c.WholeImage && !(c.WholeImageWeight > 0)) Fail("classifier.wholeImageWeight", $"must be > 0 with classifier.wholeImage, got {c.WholeImageWeight}");
            classes = c.Classes;
        }

        var known = new HashSet<string>(classes, StringComparer.Ordinal);
        if (m.Decision.MinRegionScore is < 0 or > 1) Fail("decision.minRegionScore", "must be in [0, 1]");
        if (m.Decision.DefaultActThreshold is < 0 or > 1) Fail("decision.defaultActThreshold", "must be in [0, 1]");
        foreach (string ng in m.Decision.NgClasses)
        {
            if (!known.Contains(ng)) Fail("decision.ngClasses", $"'{ng}' is not one of classifier.classes");
        }
        foreach (var (cls, t) in m.Decision.ActThresholds)
        {
            if (!known.Contains(cls) && cls != "ok") Fail($"decision.actThresholds.{cls}", "not one of classifier.classes");
            if (t is < 0 or > 1) Fail($"decision.actThresholds.{cls}", $"must be in [0, 1], got {t}");
        }
        for (int i = 0; i < m.Golden.Count; i++)
        {
            var g = m.Golden[i];
            CheckFile(packageDir, g.File, g.Sha256, $"golden[{i}].file", verifyHashes, Fail);
            if (g.ExpectVerdict is not ("ok" or "ng")) Fail($"golden[{i}].expectVerdict", $"'{g.ExpectVerdict}' is not ok or ng");
            if (g.ExpectClass is { } ec && ec != "ok" && !known.Contains(ec)) Fail($"golden[{i}].expectClass", $"'{ec}' is not one of classifier.classes");
            if (g.ExpectRegions is < 0) Fail($"golden[{i}].expectRegions", "must be >= 0");
        }
    }

    /// <summary>Lower-case hex SHA-256 of a file.</summary>
    public static string Sha256Of(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    private static void CheckFile(string dir, string file, string sha, string field, bool verify, Action<string, string> fail)
    {
        string at = Path.Combine(dir, ManifestFileName);
        if (string.IsNullOrWhiteSpace(file)) fail(field, "missing");
        // A package names files inside itself only: no absolute paths, no way out with "..".
        string full = Path.GetFullPath(Path.Combine(dir, file));
        string root = Path.GetFullPath(dir).TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        if (Path.IsPathRooted(file) || !full.StartsWith(root, StringComparison.Ordinal))
            throw new ModelPackageException(PackageProblem.UnsafePath, at, $"{field}: '{file}' is outside the package");
        string shaField = field.EndsWith(".file", StringComparison.Ordinal) ? field[..^5] + ".sha256" : field + ".sha256";
        if (!File.Exists(full))
            throw new ModelPackageException(PackageProblem.MissingFile, full, $"not found in the package ({field} of {ManifestFileName} names '{file}')");
        if (sha.Length != 64 || !sha.All(Uri.IsHexDigit)) fail(shaField, "must be 64 hex digits (SHA-256)");
        if (verify)
        {
            string actual = Sha256Of(full);
            if (!actual.Equals(sha, StringComparison.OrdinalIgnoreCase))
                throw new ModelPackageException(PackageProblem.HashMismatch, full, $"has SHA-256 {actual}, but {shaField} in {ManifestFileName} says {sha.ToLowerInvariant()}");
        }
    }

    private static void CheckInput(InputSpec input, string field, bool fixedSize, Action<string, string> fail)
    {
        if (string.IsNullOrWhiteSpace(input.Name)) fail($"{field}.name", "missing");
        if (!Layouts.Contains(input.Layout)) fail($"{field}.layout", $"'{input.Layout}' is not one of {string.Join(", ", Layouts)}");
        if (!ChannelOrders.Contains(input.Channels)) fail($"{field}.channels", $"'{input.Channels}' is not one of {string.Join(", ", ChannelOrders)}");
        if (input.Width < 0 || input.Height < 0) fail($"{field}.width", "must be >= 0");
        if (fixedSize && (input.Width == 0 || input.Height == 0)) fail($"{field}.width", "a fixed-size network needs width and height > 0");
        int channels = input.Channels == "GRAY" ? 1 : 3;
        if (input.Mean.Length != channels && input.Mean.Length != 1) fail($"{field}.mean", $"needs {channels} values (or 1), got {input.Mean.Length}");
        if (!(input.Scale > 0) || float.IsInfinity(input.Scale)) fail($"{field}.scale", $"must be > 0, got {input.Scale}");
        if (input.CropMargin is < 0 or > 2 || float.IsNaN(input.CropMargin)) fail($"{field}.cropMargin", $"must be in [0, 2], got {input.CropMargin}");
    }

    private static void CheckNms(NmsSpec nms, string field, Action<string, string> fail)
    {
        if (nms.Iou is <= 0 or > 1) fail($"{field}.iou", $"must be in (0, 1], got {nms.Iou}");
        if (!Enum.IsDefined(nms.Mode)) fail($"{field}.mode", "unknown NMS mode");
    }
}
