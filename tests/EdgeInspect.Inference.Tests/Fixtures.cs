using EdgeInspect.TestSupport;

namespace EdgeInspect.Inference.Tests;

/// <summary>Paths into ../shared/fixtures/mtcnn (canonical MTCNN weights, photos, reference output).</summary>
internal static class Fixtures
{
    public const string Mtcnn = "fixtures/mtcnn";

    public static string OnnxDir => RepoPaths.SharedPath("fixtures/mtcnn/onnx");

    public static string Onnx(string name) => Path.Combine(OnnxDir, name);

    public static string Image(string name) => RepoPaths.SharedPath(Path.Combine("fixtures/mtcnn/images", name));

    public static string ReferenceJson => RepoPaths.SharedPath("fixtures/mtcnn/reference_detections.json");
}
