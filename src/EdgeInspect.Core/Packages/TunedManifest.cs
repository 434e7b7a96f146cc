using System.Text.Json;
using System.Text.Json.Nodes;

namespace EdgeInspect.Core.Packages;

/// <summary>
/// Writes a chosen operating point into manifest bytes: <c>decision.minRegionScore</c>, the last detector stage's
/// threshold where the point lies below it, and <c>metrics.operatingPoint</c> with the figures it was chosen on. Every
/// other field keeps its value; comments do not survive (the document is re-serialised). The result is read back by
/// <see cref="ManifestReader.Parse"/> before it is returned, so a tuned manifest obeys the same rules as any other.
/// </summary>
public static class TunedManifest
{
    /// <summary>The key under <c>metrics</c> that holds the tuned point and its figures.</summary>
    public const string MetricsKey = "operatingPoint";

    /// <param name="manifest">The package's manifest.json bytes.</param>
    /// <param name="minRegionScore">The chosen region threshold.</param>
    /// <param name="figures">What the point was chosen on and its figures there (goal, data, rates).</param>
    /// <param name="path">Where the bytes came from, for messages.</param>
    public static byte[] Apply(ReadOnlyMemory<byte> manifest, float minRegionScore, JsonObject figures, string path)
    {
        ArgumentNullException.ThrowIfNull(figures);
        if (manifest.Span.StartsWith("\uFEFF"u8)) manifest = manifest[3..];
        var root = JsonNode.Parse(manifest.Span, documentOptions: ManifestReader.DocumentOptions) as JsonObject
            ?? throw new ModelPackageException(PackageProblem.Schema, path, "manifest is not a JSON object");
        var decision = Child(root, "decision", path);
        // Lowering the last stage is what makes regions below its old threshold exist at all; raising the decision's
        // floor alone keeps the stage's boxes (recorded, drawn) and only stops them counting toward the verdict.
        if (root["detector"]?["stages"] is JsonArray { Count: > 1 } stages && stages[^1] is JsonObject last
            && last["threshold"]?.GetValue<double>() is double stageThreshold && minRegionScore < stageThreshold)
        {
            last["threshold"] = Round(minRegionScore);
        }
        decision[CamelName("minRegionScore", decision)] = Round(minRegionScore);
        var metrics = root["metrics"] as JsonObject ?? new JsonObject();
        root["metrics"] = metrics;
        metrics[MetricsKey] = figures;
        byte[] bytes = [.. JsonSerializer.SerializeToUtf8Bytes(root, ManifestReader.JsonOptions), (byte)'\n'];
        ManifestReader.Parse(bytes, path);
        return bytes;
    }

    private static JsonObject Child(JsonObject root, string name, string path) =>
        root[name] as JsonObject ?? throw new ModelPackageException(PackageProblem.Schema, path, $"{name}: missing, nothing to tune");

    /// <summary>The reader matches names case-insensitively: keep the spelling the file already uses.</summary>
    private static string CamelName(string name, JsonObject owner) =>
        owner.Select(kv => kv.Key).FirstOrDefault(k => string.Equals(k, name, StringComparison.OrdinalIgnoreCase)) ?? name;

    /// <summary>A float's shortest decimal (0.55, not 0.550000011920929).</summary>
    private static double Round(float value) => double.Parse(value.ToString("R", System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture);
}
