using System.Text;
using System.Text.Json.Nodes;
using EdgeInspect.Core.Packages;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Core.Tests.Packages;

public class TunedManifestTests
{
    private static readonly string Shipped = Path.Combine(RepoPaths.Root, "models", "virtual-line", "manifest.json");

    [Theory]
    [InlineData(0.55f, 0.35)] // above the last stage's 0.35: only the decision moves
    [InlineData(0.2f, 0.2)]   // below it: the stage must keep those boxes too
    public void Apply_ChosenPoint_SetsDecisionAndLowersLastStageOnlyWhenBelowIt(float point, double expectedStage)
    {
        byte[] original = File.ReadAllBytes(Shipped);

        byte[] tuned = TunedManifest.Apply(original, point, new JsonObject { ["goal"] = "test" }, Shipped);

        var manifest = ManifestReader.Parse(tuned, Shipped);
        Assert.Equal(point, manifest.Decision.MinRegionScore);
        Assert.Equal(expectedStage, manifest.Detector!.Stages[^1].Threshold, 6);
        Assert.Equal(ManifestReader.Parse(original, Shipped).Detector!.Stages[0].Threshold, manifest.Detector.Stages[0].Threshold);
        var node = JsonNode.Parse(tuned)!;
        Assert.Equal("test", node["metrics"]![TunedManifest.MetricsKey]!["goal"]!.GetValue<string>());
        Assert.NotNull(node["metrics"]!["csharp_val"]); // the figures already there stay
        Assert.Contains($"\"minRegionScore\": {point.ToString(System.Globalization.CultureInfo.InvariantCulture)}", Encoding.UTF8.GetString(tuned), StringComparison.Ordinal);
    }
}
