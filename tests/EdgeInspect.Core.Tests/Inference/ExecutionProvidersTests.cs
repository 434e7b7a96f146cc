using EdgeInspect.Core.Inference;
using Xunit;

namespace EdgeInspect.Core.Tests.Inference;

public sealed class ExecutionProvidersTests
{
    [Fact]
    public void Parse_PreferenceList_TrimmedLowerCaseInOrder()
    {
        Assert.Equal(["tensorrt", "cuda", "cpu"], ExecutionProviders.Parse(" TensorRT, cuda ,cpu"));
    }

    [Theory]
    [InlineData("gpu", "unknown execution provider 'gpu'")]
    [InlineData("cpu,,cuda", "name is empty")]
    [InlineData("cpu,cpu", "listed twice")]
    [InlineData("", "at least one")]
    public void TryParse_BadList_FalseWithReason(string text, string reason)
    {
        Assert.False(ExecutionProviders.TryParse(text, out _, out var error));
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Fact]
    public void InferenceOptionsValidate_UnknownProvider_NamesKeyAndProvider()
    {
        var e = Assert.Throws<ArgumentException>(() => new InferenceOptions { Providers = ["npu"] }.Validate());
        Assert.Equal("Inference:Providers: unknown execution provider 'npu' (known: tensorrt, cuda, cpu)", e.Message);
    }
}
