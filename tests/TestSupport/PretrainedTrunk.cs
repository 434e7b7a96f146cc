namespace EdgeInspect.TestSupport;

/// <summary>
/// The ImageNet-trained ResNet-18 that tools/train builds on: ResNet18.onnx of the NuGet package
/// Microsoft.ML.DnnImageFeaturizer.ResNet18, restored (never committed) by tools/train/resnet18, which the solution
/// restores.
/// </summary>
public static class PretrainedTrunk
{
    public const string Package = "microsoft.ml.dnnimagefeaturizer.resnet18";
    public const string Version = "0.23.1";

    /// <summary>The restored package's ResNet18.onnx (NUGET_PACKAGES, else ~/.nuget/packages), present or not.</summary>
    public static string OnnxPath
    {
        get
        {
            string root = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } given
                ? given
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            return Path.Combine(root, Package, Version, "tools", "DnnImageModels", "ResNet18Onnx", "ResNet18.onnx");
        }
    }

    /// <summary>Why the trunk cannot be used here (a skip reason), or null when it can.</summary>
    public static string? MissingReason => File.Exists(OnnxPath)
        ? TrainingPython.MissingReason
        : $"{OnnxPath} is missing: run `dotnet restore tools/train/resnet18` (the solution's restore brings it)";
}
