using EdgeInspect.Core.Domain;
using EdgeInspect.Core.Imaging;
using EdgeInspect.Core.Packages;

namespace EdgeInspect.Core.Inspection;

/// <summary>
/// Runs a package's golden images and compares the results with what the manifest expects: the check a
/// device makes before it trials a new package, so a package that loads but misbehaves is refused.
/// </summary>
public static class GoldenCheck
{
    /// <summary>One line per mismatch (file, expected, got); empty when every golden image passes.</summary>
    public static IReadOnlyList<string> Run(ModelPackage package, PackageInspector inspector, IImageOps ops)
    {
        ArgumentNullException.ThrowIfNull(package);
        ArgumentNullException.ThrowIfNull(inspector);
        ArgumentNullException.ThrowIfNull(ops);
        var failures = new List<string>();
        foreach (var golden in package.Manifest.Golden)
        {
            using var image = ops.Decode(package.PathOf(golden.File));
            var result = inspector.Inspect(image);
            string verdict = result.Verdict == Verdict.Ng ? "ng" : "ok";
            if (verdict != golden.ExpectVerdict) failures.Add($"{golden.File}: expected verdict {golden.ExpectVerdict}, got {verdict}");
            if (golden.ExpectClass is { } cls && cls != result.PartClass) failures.Add($"{golden.File}: expected class {cls}, got {result.PartClass}");
            int detected = result.Regions.Count(r => !r.WholeFrame);
            if (golden.ExpectRegions is { } n && n != detected) failures.Add($"{golden.File}: expected {n} regions, got {detected}");
        }
        return failures;
    }
}
