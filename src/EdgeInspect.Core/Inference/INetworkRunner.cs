namespace EdgeInspect.Core.Inference;

/// <summary>Name, element type and declared shape of one network input or output (-1 = dynamic dimension).</summary>
public sealed record TensorDescriptor(string Name, string ElementType, IReadOnlyList<long> Shape);

/// <summary>
/// One loaded network (an ONNX graph) that runs on caller-owned, reused buffers. Generic: the cascade's
/// P-Net (dynamic spatial dims), R-Net and O-Net (dynamic batch) and the defect classifier
/// ([N,H,W,C] or [N,C,H,W] in, [N,classes] out) all use it.
/// Not thread-safe: one runner per loop (it caches native views of the buffers it has seen).
/// </summary>
public interface INetworkRunner : IDisposable
{
    /// <summary>The model file it was opened from.</summary>
    string ModelPath { get; }

    /// <summary>The execution provider that took the graph ("cpu", "cuda", "tensorrt").</summary>
    string ExecutionProvider { get; }

    IReadOnlyList<TensorDescriptor> Inputs { get; }

    IReadOnlyList<TensorDescriptor> Outputs { get; }

    /// <summary>Index of an input by name, or -1.</summary>
    int InputIndex(string name);

    /// <summary>Index of an output by name, or -1.</summary>
    int OutputIndex(string name);

    /// <summary>
    /// Runs the network. <paramref name="inputs"/> holds one buffer per input in <see cref="Inputs"/> order,
    /// shaped and filled by the caller; <paramref name="outputs"/> one buffer per output in <see cref="Outputs"/>
    /// order: the runner sets their shapes and writes the results into them. Once a given input shape has been
    /// seen, a call allocates nothing on the managed heap.
    /// </summary>
    void Run(ReadOnlySpan<TensorBuffer> inputs, ReadOnlySpan<TensorBuffer> outputs);
}

/// <summary>How to open networks: execution providers in preference order and threading.</summary>
public sealed record InferenceOptions
{
    /// <summary>Preference order, e.g. ["tensorrt", "cuda", "cpu"]; a missing provider falls back to the next with a warning.</summary>
    public IReadOnlyList<string> Providers { get; init; } = ["cpu"];

    /// <summary>Threads inside one operator; 0 = one per core.</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>Threads across independent operators (1 = sequential execution, the right choice for these small graphs).</summary>
    public int InterOpThreads { get; init; } = 1;

    /// <summary>Let idle intra-op workers spin between runs (lower latency on a dedicated many-core box, but it steals the core the rest of the pipeline needs on a small device).</summary>
    public bool AllowSpinning { get; init; }

    /// <summary>
    /// Copies of each cascade network run side by side, each by its own thread, the stage's work split between
    /// them (see <see cref="Detection.CascadeDetector"/>); the intra-op threads are shared out between the copies.
    /// 1 (the default): one copy on ONNX Runtime's own threads. 0 = automatic: one per core (at most 4) when the
    /// first provider is the CPU, else 1 (a GPU runs one copy). On the 2-core VM two lanes make the cascade 45 %
    /// faster but leave no core idle for the station's other stages (see the README's figures).
    /// </summary>
    public int Lanes { get; init; } = 1;

    /// <summary>GPU ordinal for cuda / tensorrt.</summary>
    public int DeviceId { get; init; }

    /// <summary>Run once with zeros at load so the first real frame does not pay for lazy initialisation.</summary>
    public bool WarmUp { get; init; } = true;

    /// <summary>Size used for dynamic spatial dimensions during warm-up.</summary>
    public int WarmUpSpatialSize { get; init; } = 48;

    /// <summary>Throws naming the offending key when the options are unusable.</summary>
    public void Validate()
    {
        if (Providers is null) throw new ArgumentException("Inference:Providers must list at least one execution provider (e.g. cpu)");
        if (ExecutionProviders.Problem(Providers) is { } problem) throw new ArgumentException($"Inference:Providers: {problem}");
        if (IntraOpThreads < 0) throw new ArgumentException($"Inference:IntraOpThreads must be >= 0, got {IntraOpThreads}");
        if (InterOpThreads < 0) throw new ArgumentException($"Inference:InterOpThreads must be >= 0, got {InterOpThreads}");
        if (DeviceId < 0) throw new ArgumentException($"Inference:DeviceId must be >= 0, got {DeviceId}");
        if (Lanes is < 0 or > 16) throw new ArgumentException($"Inference:Lanes must be 0..16 (0 = automatic), got {Lanes}");
    }

    /// <summary><see cref="Lanes"/> with 0 resolved: one per core (at most 4) on the CPU provider, 1 on a GPU.</summary>
    public int ResolvedLanes()
    {
        if (Lanes > 0) return Lanes;
        bool cpu = Providers is { Count: > 0 } && string.Equals(Providers[0], "cpu", StringComparison.OrdinalIgnoreCase);
        return cpu ? Math.Clamp(Environment.ProcessorCount, 1, 4) : 1;
    }

    /// <summary>The options each of <paramref name="lanes"/> copies opens with: the intra-op threads shared out (at least one each).</summary>
    public InferenceOptions PerLane(int lanes)
    {
        if (lanes <= 1) return this;
        int total = IntraOpThreads > 0 ? IntraOpThreads : Environment.ProcessorCount;
        return this with { IntraOpThreads = Math.Max(1, total / lanes) };
    }
}

/// <summary>Opens networks from files (one backend per accelerator stack, chosen by configuration).</summary>
public interface INetworkFactory
{
    /// <summary>Opens <paramref name="modelPath"/>; throws <see cref="NetworkLoadException"/> naming the file and the problem.</summary>
    INetworkRunner Open(string modelPath, InferenceOptions options);
}

/// <summary>A network file that is missing or cannot be loaded; the message names the file.</summary>
public sealed class NetworkLoadException : Exception
{
    public NetworkLoadException(string path, string problem, Exception? inner = null)
        : base($"{path}: {problem}", inner)
    {
        ModelPath = path;
    }

    public NetworkLoadException() { ModelPath = ""; }

    public NetworkLoadException(string message) : base(message) { ModelPath = ""; }

    public NetworkLoadException(string message, Exception inner) : base(message, inner) { ModelPath = ""; }

    public string ModelPath { get; }
}
