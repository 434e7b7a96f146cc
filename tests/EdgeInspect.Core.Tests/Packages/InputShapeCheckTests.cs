using EdgeInspect.Core.Packages;
using Xunit;

namespace EdgeInspect.Core.Tests.Packages;

public class InputShapeCheckTests
{
    private static InputSpec Spec(int size, string layout = "NWHC") => new() { Name = "input", Width = size, Height = size, Layout = layout };

    [Fact]
    public void Check_MatchingFixedShape_ReturnsNull() =>
        Assert.Null(InputShapeCheck.Check(Spec(24), new Dictionary<string, int[]> { ["input"] = [-1, 24, 24, 3] }, "rnet.onnx", "detector.stages[1].input"));

    [Fact]
    public void Check_FullyConvolutionalSpecAndDynamicGraph_ReturnsNull() =>
        Assert.Null(InputShapeCheck.Check(Spec(0), new Dictionary<string, int[]> { ["input"] = [-1, -1, -1, 3] }, "pnet.onnx", "detector.stages[0].input"));

    [Fact]
    public void Check_GraphSizeDiffers_NamesFileFieldAndShapes()
    {
        string? problem = InputShapeCheck.Check(Spec(24), new Dictionary<string, int[]> { ["input"] = [-1, 48, 48, 3] }, "rnet.onnx", "detector.stages[1].input");

        Assert.Equal("rnet.onnx: input 'input' has shape [?, 48, 48, 3] but detector.stages[1].input (NWHC RGB, 24x24) needs [?, 24, 24, 3]", problem);
    }

    [Fact]
    public void Check_ChannelsFirstGraphForChannelsLastSpec_Refused() =>
        Assert.NotNull(InputShapeCheck.Check(Spec(48), new Dictionary<string, int[]> { ["input"] = [1, 3, 48, 48] }, "c.onnx", "classifier.input"));

    [Fact]
    public void Check_MissingInputName_NamesAvailableInputs()
    {
        string? problem = InputShapeCheck.Check(Spec(48), new Dictionary<string, int[]> { ["data"] = [1, 48, 48, 3] }, "c.onnx", "classifier.input");

        Assert.Contains("no input 'input' (it has data)", problem, StringComparison.Ordinal);
    }
}
