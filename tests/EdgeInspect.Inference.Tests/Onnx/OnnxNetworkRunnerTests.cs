using System.Diagnostics;
using EdgeInspect.Core.Inference;
using EdgeInspect.Inference.Onnx;
using EdgeInspect.TestSupport;
using Microsoft.Extensions.Logging;
using Xunit;

namespace EdgeInspect.Inference.Tests.Onnx;

[Collection(AllocationMeasurements.Name)]
public sealed class OnnxNetworkRunnerTests
{
    private static readonly InferenceOptions Cpu = new() { Providers = ["cpu"], IntraOpThreads = 1 };

    [SharedDataFact(Fixtures.Mtcnn)]
    public void Open_TensorrtCudaCpuOnCpuBuild_FallsBackToCpuWithOneWarningPerMissingProvider()
    {
        var logger = new CapturingLogger<OnnxNetworkFactory>();
        var factory = new OnnxNetworkFactory(logger);

        using var runner = factory.Open(Fixtures.Onnx("rnet.onnx"), Cpu with { Providers = ["tensorrt", "cuda", "cpu"] });

        Assert.Equal("cpu", runner.ExecutionProvider);
        var warnings = logger.Entries.Where(e => e.Level == LogLevel.Warning).Select(e => e.Message).ToList();
        Assert.Equal(2, warnings.Count);
        Assert.Contains(warnings, w => w.Contains("'tensorrt'", StringComparison.Ordinal) && w.Contains("'cpu'", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Contains("'cuda'", StringComparison.Ordinal) && w.Contains("'cpu'", StringComparison.Ordinal));
    }

    [SharedDataFact(Fixtures.Mtcnn)]
    public void Open_OnlyGpuProvidersOnCpuBuild_ThrowsNamingTheFileAndTheKey()
    {
        var factory = new OnnxNetworkFactory();

        var ex = Assert.Throws<NetworkLoadException>(() => factory.Open(Fixtures.Onnx("rnet.onnx"), Cpu with { Providers = ["tensorrt", "cuda"] }));

        Assert.Contains("rnet.onnx", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Inference:Providers", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_UnknownProvider_ThrowsNamingTheKey()
    {
        var ex = Assert.Throws<ArgumentException>(() => new OnnxNetworkFactory().Open("whatever.onnx", Cpu with { Providers = ["npu"] }));
        Assert.Contains("Inference:Providers", ex.Message, StringComparison.Ordinal);
        Assert.Contains("npu", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_MissingFile_ThrowsNamingTheFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"missing-{Guid.NewGuid():N}.onnx");
        var ex = Assert.Throws<NetworkLoadException>(() => new OnnxNetworkFactory().Open(path, Cpu));
        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("not found", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_GarbageFile_ThrowsNamingTheFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"garbage-{Guid.NewGuid():N}.onnx");
        File.WriteAllText(path, "this is not a protobuf");
        try
        {
            var ex = Assert.Throws<NetworkLoadException>(() => new OnnxNetworkFactory().Open(path, Cpu));
            Assert.Contains(path, ex.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("\n", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Trait(TestCategories.Name, TestCategories.Slow)]
    [SharedDataFact(Fixtures.Mtcnn)]
    public void Run_MoreDistinctShapesThanTheViewCache_EvictsBetweenCallsAndStaysCorrect()
    {
        // Regression: the cache of OrtValue views (1,024) used to be cleared in the middle of a call, disposing the
        // views just taken for it; ONNX Runtime then ran on freed memory (a segfault after a few hundred frames).
        // Every batch size from 1 to 400 is a new shape (three views each), so the cache fills and is cleared.
        using var runner = new OnnxNetworkFactory().Open(Fixtures.Onnx("rnet.onnx"), Cpu);
        var input = new TensorBuffer();
        var outputs = runner.Outputs.Select(_ => new TensorBuffer()).ToArray();
        var rng = new Random(3);
        for (int n = 1; n <= 400; n++)
        {
            input.SetShape(n, 24, 24, 3);
            foreach (ref var v in input.Span) v = (float)((rng.NextDouble() * 2) - 1);
            runner.Run([input], outputs);
            var scores = outputs[runner.OutputIndex("softmax_1")];
            Assert.Equal([n, 2L], scores.Shape.ToArray());
            Assert.Equal(1.0, scores.Span[^2] + scores.Span[^1], 4);
        }
    }

    [SharedDataFact(Fixtures.Mtcnn)]
    public void Run_RNetBatch_WritesSoftmaxAndBoxesIntoCallerBuffers()
    {
        using var runner = new OnnxNetworkFactory().Open(Fixtures.Onnx("rnet.onnx"), Cpu);
        var input = new TensorBuffer();
        input.SetShape(5, 24, 24, 3);
        var rng = new Random(7);
        foreach (ref var v in input.Span) v = (float)((rng.NextDouble() * 2) - 1);
        var outputs = runner.Outputs.Select(_ => new TensorBuffer()).ToArray();

        runner.Run([input], outputs);

        var scores = outputs[runner.OutputIndex("softmax_1")];
        var boxes = outputs[runner.OutputIndex("dense_2")];
        Assert.Equal([5L, 2L], scores.Shape.ToArray());
        Assert.Equal([5L, 4L], boxes.Shape.ToArray());
        for (int i = 0; i < 5; i++) Assert.Equal(1.0, scores.Span[2 * i] + scores.Span[(2 * i) + 1], 4);
    }

    [SharedDataFact(Fixtures.Mtcnn)]
    public void Run_PNetDynamicSpatialDims_OutputShapeMatchesReferenceProbe()
    {
        // reference_detections.json, ivan.jpg pnet_probe_first_scale: input [1, 337, 337, 3] -> [1, 164, 164, 4] and [1, 164, 164, 2].
        using var runner = new OnnxNetworkFactory().Open(Fixtures.Onnx("pnet.onnx"), Cpu);
        var input = new TensorBuffer();
        input.SetShape(1, 337, 337, 3);
        input.Span.Clear();
        var outputs = runner.Outputs.Select(_ => new TensorBuffer()).ToArray();

        runner.Run([input], outputs); // first time: shape discovered
        runner.Run([input], outputs); // then written in place

        Assert.Equal([1L, 164L, 164L, 4L], outputs[runner.OutputIndex("conv2d_4")].Shape.ToArray());
        Assert.Equal([1L, 164L, 164L, 2L], outputs[runner.OutputIndex("softmax")].Shape.ToArray());
    }

    [SharedDataFact(Fixtures.Mtcnn)]
    public void Run_SameShapeOnceWarm_AllocatesNothingOnTheManagedHeap()
    {
        using var runner = new OnnxNetworkFactory().Open(Fixtures.Onnx("pnet.onnx"), Cpu);
        var input = new TensorBuffer();
        input.SetShape(1, 60, 40, 3);
        input.Span.Fill(0.25f);
        var outputs = runner.Outputs.Select(_ => new TensorBuffer()).ToArray();
        var inputs = new[] { input };
        for (int i = 0; i < 3; i++) runner.Run(inputs, outputs); // discover the output shape, bind, first bound run

        Assert.Equal(0, AllocatedPerTenWarmRuns(runner, inputs, outputs));
    }

    /// <summary>
    /// Managed bytes allocated by 10 runs once past the JIT's tier-up (30 calls, then a background recompile), as the
    /// benches warm for 3 s: a first call into freshly tiered code may allocate once, which is warm-up, not a
    /// per-call cost.
    /// </summary>
    private static long AllocatedPerTenWarmRuns(INetworkRunner runner, TensorBuffer[] inputs, TensorBuffer[] outputs)
    {
        var warm = Stopwatch.StartNew();
        while (warm.ElapsedMilliseconds < 500) runner.Run(inputs, outputs);
        for (int i = 0; i < 50; i++) runner.Run(inputs, outputs);

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) runner.Run(inputs, outputs);
        return GC.GetAllocatedBytesForCurrentThread() - before;
    }

    [SharedDataFact(Fixtures.Mtcnn)]
    public void Run_BatchLargerThanOneRun_MatchesEveryRowRunAloneBitForBit()
    {
        // 100 rows go to ONNX Runtime as runs of MaxRowsPerRun (32, 32, 32, 4); each row must come out exactly as
        // it does alone, or cutting the batch would change the cascade's results.
        using var runner = new OnnxNetworkFactory().Open(Fixtures.Onnx("onet.onnx"), Cpu);
        const int rows = 100;
        Assert.True(rows > OnnxNetworkRunner.MaxRowsPerRun);
        var batch = new TensorBuffer();
        batch.SetShape(rows, 48, 48, 3);
        var rng = new Random(11);
        foreach (ref var v in batch.Span) v = (float)((rng.NextDouble() * 2) - 1);
        var batched = runner.Outputs.Select(_ => new TensorBuffer()).ToArray();
        runner.Run([batch], batched);

        var one = new TensorBuffer();
        one.SetShape(1, 48, 48, 3);
        var alone = runner.Outputs.Select(_ => new TensorBuffer()).ToArray();
        int rowLength = 48 * 48 * 3;
        for (int r = 0; r < rows; r++)
        {
            batch.Span.Slice(r * rowLength, rowLength).CopyTo(one.Span);
            runner.Run([one], alone);
            for (int o = 0; o < alone.Length; o++)
            {
                Assert.Equal(rows, batched[o].Shape[0]);
                int width = alone[o].Length;
                Assert.Equal(alone[o].Span.ToArray(), batched[o].Span.Slice(r * width, width).ToArray());
            }
        }
    }

    [SharedDataFact(Fixtures.Mtcnn)]
    public void Run_SameLargeBatchOnceWarm_AllocatesNothingOnTheManagedHeap()
    {
        using var runner = new OnnxNetworkFactory().Open(Fixtures.Onnx("rnet.onnx"), Cpu);
        var input = new TensorBuffer();
        input.SetShape(OnnxNetworkRunner.MaxRowsPerRun * 3 + 5, 24, 24, 3);
        input.Span.Fill(0.25f);
        var outputs = runner.Outputs.Select(_ => new TensorBuffer()).ToArray();
        var inputs = new[] { input };

        Assert.Equal(0, AllocatedPerTenWarmRuns(runner, inputs, outputs));
    }

    [SharedDataFact(Fixtures.Mtcnn)]
    public void Run_AfterTheInputBufferGrew_NoLongerHoldsItsOldArray()
    {
        using var runner = new OnnxNetworkFactory().Open(Fixtures.Onnx("rnet.onnx"), Cpu);
        var input = new TensorBuffer();
        var outputs = runner.Outputs.Select(_ => new TensorBuffer()).ToArray();
        var old = RunAndForget(runner, input, outputs, rows: 2);

        input.SetShape(400, 24, 24, 3); // a new, larger array
        input.Span.Clear();
        runner.Run([input], outputs);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();

        Assert.False(old.TryGetTarget(out _), "the runner's cached views still hold the array the buffer replaced");
    }

    /// <summary>Runs <paramref name="rows"/> rows and returns a weak reference to the array the input used.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference<float[]> RunAndForget(INetworkRunner runner, TensorBuffer input, TensorBuffer[] outputs, int rows)
    {
        input.SetShape(rows, 24, 24, 3);
        input.Span.Clear();
        runner.Run([input], outputs);
        return new WeakReference<float[]>(input.Data);
    }
}
