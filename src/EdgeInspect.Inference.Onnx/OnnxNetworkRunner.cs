using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using EdgeInspect.Core.Inference;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace EdgeInspect.Inference.Onnx;

/// <summary>
/// One ONNX Runtime session run over the OrtValue API on caller-owned <see cref="TensorBuffer"/>s: each buffer is
/// wrapped once per (storage, shape) as an OrtValue over its pinned array and the wrapper is cached, so a warm
/// call copies nothing and allocates nothing on the managed heap (onnxruntime csharp "OrtValue API" guidance).
/// Output shapes are known up front when only the batch dimension is dynamic; otherwise (a fully convolutional
/// net like P-Net) the first run of each new input shape lets ONNX Runtime allocate the outputs, records their
/// shapes, and later runs of that shape write straight into the caller's buffers.
/// </summary>
public sealed class OnnxNetworkRunner : INetworkRunner
{
    /// <summary>Marks a run over whole buffers rather than a row range.</summary>
    private const long WholeTensor = -1;

    /// <summary>
    /// Most rows of a batch-dynamic network (R-Net, O-Net, the classifier) given to ONNX Runtime in one run. ONNX
    /// Runtime sizes a run's intermediate tensors by its batch and keeps what its arena grew to for good, so one frame
    /// with many candidates would pin hundreds of megabytes per session for the life of the process. Rows
    /// are independent in these graphs, so cutting the batch changes no result; 32 rows keep the per-run overhead
    /// small next to the compute of a chunk.
    /// </summary>
    public const int MaxRowsPerRun = 32;

    private const int MaxCachedViews = 1024;
    private readonly InferenceSession _session;
    private readonly SessionOptions _sessionOptions;
    private readonly RunOptions _runOptions = new();
    private readonly string[] _inputNames;
    private readonly string[] _outputNames;
    private readonly OrtValue[] _inputValues;
    private readonly OrtValue[] _outputValues;
    private readonly bool[] _outputBatchOnly; // output dims all static except dim 0
    private readonly long[][] _outputStatic;
    private readonly Dictionary<ViewKey, OrtValue> _views = [];
    private readonly Dictionary<ShapeKey, long[][]> _outputShapes = [];
    private readonly Dictionary<BindingKey, OrtIoBinding> _bindings = [];
    private readonly Dictionary<TensorBuffer, float[]> _storage = new(ReferenceEqualityComparer.Instance); // each buffer's array at its last run
    private bool _disposed;

    internal OnnxNetworkRunner(string path, InferenceSession session, SessionOptions sessionOptions, string provider)
    {
        ModelPath = path;
        _session = session;
        _sessionOptions = sessionOptions;
        ExecutionProvider = provider;
        _inputNames = [.. session.InputNames];
        _outputNames = [.. session.OutputNames];
        Inputs = [.. _inputNames.Select(n => Describe(n, session.InputMetadata[n]))];
        Outputs = [.. _outputNames.Select(n => Describe(n, session.OutputMetadata[n]))];
        foreach (var d in Inputs.Concat(Outputs))
        {
            if (d.ElementType != "float32")
                throw new NetworkLoadException(path, $"tensor '{d.Name}' is {d.ElementType}; only float32 inputs and outputs are supported");
        }
        _inputValues = new OrtValue[_inputNames.Length];
        _outputValues = new OrtValue[_outputNames.Length];
        _outputBatchOnly = new bool[_outputNames.Length];
        _outputStatic = new long[_outputNames.Length][];
        for (int i = 0; i < Outputs.Count; i++)
        {
            var s = Outputs[i].Shape;
            _outputStatic[i] = [.. s];
            _outputBatchOnly[i] = s.Count > 0 && s.Skip(1).All(d => d > 0);
        }
    }

    public string ModelPath { get; }

    public string ExecutionProvider { get; }

    public IReadOnlyList<TensorDescriptor> Inputs { get; }

    public IReadOnlyList<TensorDescriptor> Outputs { get; }

    public int InputIndex(string name) => Array.IndexOf(_inputNames, name);

    public int OutputIndex(string name) => Array.IndexOf(_outputNames, name);

    public void Run(ReadOnlySpan<TensorBuffer> inputs, ReadOnlySpan<TensorBuffer> outputs)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (inputs.Length != _inputNames.Length)
            throw new ArgumentException($"{Path.GetFileName(ModelPath)} has {_inputNames.Length} inputs, {inputs.Length} given", nameof(inputs));
        if (outputs.Length != _outputNames.Length)
            throw new ArgumentException($"{Path.GetFileName(ModelPath)} has {_outputNames.Length} outputs, {outputs.Length} buffers given", nameof(outputs));

        // Evict before taking any view for this call, never in the middle of it: clearing after some views of this
        // call were taken disposed them while they were about to be bound and run (a use-after-free inside ONNX
        // Runtime, seen as a segfault after a few hundred frames with varying candidate counts).
        bool stale = false;
        foreach (var b in inputs) stale |= Replaced(b);
        foreach (var b in outputs) stale |= Replaced(b);
        long runs = inputs.Length > 0 && inputs[0].Shape.Length > 0 ? Math.Max(1, (inputs[0].Shape[0] + MaxRowsPerRun - 1) / MaxRowsPerRun) : 1;
        if (_views.Count + (runs * (inputs.Length + outputs.Length)) > MaxCachedViews || _bindings.Count + runs > MaxCachedViews || stale) ClearCaches();

        var key = default(ShapeKey);
        for (int i = 0; i < inputs.Length; i++) key.Append(inputs[i].Shape);

        if (!TryOutputShapes(inputs, key, out var shapes))
        {
            DiscoverAndRun(inputs, outputs, key);
            return;
        }
        if (shapes is null) for (int o = 0; o < outputs.Length; o++) SetBatchShape(outputs[o], o, inputs[0].Shape[0]);
        else for (int o = 0; o < outputs.Length; o++) outputs[o].SetShape(shapes[o]);

        long batch = inputs[0].Shape.Length > 0 ? inputs[0].Shape[0] : 1;
        if (shapes is null && batch > MaxRowsPerRun)
        {
            for (long first = 0; first < batch; first += MaxRowsPerRun) RunRows(inputs, outputs, first, Math.Min(MaxRowsPerRun, batch - first));
            return;
        }
        RunRows(inputs, outputs, 0, WholeTensor);
    }

    /// <summary>
    /// One run over rows [first, first + rows) of every buffer (the whole buffers when <paramref name="rows"/> is
    /// <see cref="WholeTensor"/>), through an IoBinding cached per (buffers, shapes, rows).
    /// </summary>
    private void RunRows(ReadOnlySpan<TensorBuffer> inputs, ReadOnlySpan<TensorBuffer> outputs, long first, long rows)
    {
        var bindingKey = default(BindingKey);
        bool bindable = inputs.Length + outputs.Length <= BindingKey.MaxBuffers;
        for (int i = 0; i < inputs.Length; i++)
        {
            _inputValues[i] = ViewOf(inputs[i], first, rows);
            bindingKey.AddShape(inputs[i].Shape);
            if (bindable) bindingKey.Add(i, inputs[i].Data);
        }
        bindingKey.AddRows(first, rows);
        bindable &= !bindingKey.Overflow;
        for (int o = 0; o < outputs.Length; o++)
        {
            if (bindable) bindingKey.Add(inputs.Length + o, outputs[o].Data);
        }
        try
        {
            // The plain Run(names, values) overload builds handle arrays per call; an IoBinding bound once per
            // (buffers, shapes) runs with no managed allocation at all.
            if (!bindable || !_bindings.TryGetValue(bindingKey, out var binding))
            {
                for (int o = 0; o < outputs.Length; o++) _outputValues[o] = ViewOf(outputs[o], first, rows);
                if (!bindable)
                {
                    _session.Run(_runOptions, _inputNames, _inputValues, _outputNames, _outputValues);
                    return;
                }
                binding = _session.CreateIoBinding();
                for (int i = 0; i < _inputValues.Length; i++) binding.BindInput(_inputNames[i], _inputValues[i]);
                for (int o = 0; o < _outputValues.Length; o++) binding.BindOutput(_outputNames[o], _outputValues[o]);
                _bindings[bindingKey] = binding;
            }
            _session.RunWithBinding(_runOptions, binding);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new InvalidOperationException($"{Path.GetFileName(ModelPath)}: run failed: {ex.Message}", ex);
        }
    }

    /// <summary>Runs once with zeros so lazy initialisation (kernels, arenas, TensorRT engines) happens at load.</summary>
    internal void WarmUp(int spatial)
    {
        var ins = new TensorBuffer[Inputs.Count];
        var outs = new TensorBuffer[Outputs.Count];
        for (int i = 0; i < ins.Length; i++)
        {
            var declared = Inputs[i].Shape;
            var shape = new long[declared.Count];
            for (int d = 0; d < shape.Length; d++) shape[d] = declared[d] > 0 ? declared[d] : (d == 0 ? 1 : spatial);
            // A dynamic dim that is clearly the channel axis (last of 4 in NHWC, or 2nd in NCHW) is rare; spatial is a safe guess.
            ins[i] = new TensorBuffer();
            ins[i].SetShape(shape);
            ins[i].Span.Clear();
        }
        for (int o = 0; o < outs.Length; o++) outs[o] = new TensorBuffer();
        Run(ins, outs);
        // Drop the warm-up's cached views and bindings: their buffers die here.
        ClearCaches();
    }

    /// <summary>
    /// True when <paramref name="buffer"/>'s storage was replaced since the last run (it grew): the cached views of
    /// the old array would keep it alive, and it sits on the pinned object heap, which is never compacted.
    /// </summary>
    private bool Replaced(TensorBuffer buffer)
    {
        ref var seen = ref CollectionsMarshal.GetValueRefOrAddDefault(_storage, buffer, out bool existed);
        bool replaced = existed && !ReferenceEquals(seen, buffer.Data);
        seen = buffer.Data;
        return replaced;
    }

    /// <summary>Bindings point at views: both go together.</summary>
    private void ClearCaches()
    {
        _storage.Clear();
        foreach (var b in _bindings.Values) b.Dispose();
        _bindings.Clear();
        foreach (var v in _views.Values) v.Dispose();
        _views.Clear();
    }

    private bool TryOutputShapes(ReadOnlySpan<TensorBuffer> inputs, in ShapeKey key, out long[][]? shapes)
    {
        shapes = null;
        bool batchOnly = !key.Overflow && inputs.Length == 1 && Array.TrueForAll(_outputBatchOnly, b => b) && StaticExceptBatch(inputs[0].Shape, Inputs[0].Shape);
        if (batchOnly) return true;
        return !key.Overflow && _outputShapes.TryGetValue(key, out shapes);
    }

    private static bool StaticExceptBatch(ReadOnlySpan<long> actual, IReadOnlyList<long> declared)
    {
        if (actual.Length != declared.Count) return false;
        for (int d = 1; d < actual.Length; d++)
        {
            if (declared[d] <= 0) return false;
        }
        return true;
    }

    private void SetBatchShape(TensorBuffer buffer, int output, long batch)
    {
        var s = _outputStatic[output];
        Span<long> shape = stackalloc long[s.Length];
        s.CopyTo(shape);
        shape[0] = batch;
        buffer.SetShape(shape);
    }

    private void DiscoverAndRun(ReadOnlySpan<TensorBuffer> inputs, ReadOnlySpan<TensorBuffer> outputs, ShapeKey key)
    {
        for (int i = 0; i < inputs.Length; i++) _inputValues[i] = ViewOf(inputs[i], 0, WholeTensor);
        IDisposableReadOnlyCollection<OrtValue> results;
        try
        {
            results = _session.Run(_runOptions, _inputNames, _inputValues, _outputNames);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new InvalidOperationException($"{Path.GetFileName(ModelPath)}: run failed: {ex.Message}", ex);
        }
        using (results)
        {
            var shapes = new long[outputs.Length][];
            int o = 0;
            foreach (var value in results)
            {
                shapes[o] = value.GetTensorTypeAndShape().Shape;
                outputs[o].SetShape(shapes[o]);
                value.GetTensorDataAsSpan<float>().CopyTo(outputs[o].Span);
                o++;
            }
            if (!key.Overflow) _outputShapes[key] = shapes;
        }
    }

    /// <summary>A native view of rows [first, first + rows) of <paramref name="buffer"/> (all of it for <see cref="WholeTensor"/>), cached.</summary>
    private OrtValue ViewOf(TensorBuffer buffer, long first, long rows)
    {
        var key = new ViewKey(buffer, buffer.Data, default);
        key.Shape.Append(buffer.Shape);
        Span<long> range = [first, rows];
        key.Shape.Append(range);
        if (_views.TryGetValue(key, out var value)) return value;
        var shape = buffer.Shape.ToArray();
        int start = 0, length = buffer.Length;
        if (rows != WholeTensor)
        {
            int rowLength = (int)(buffer.Length / shape[0]);
            start = checked((int)first * rowLength);
            length = checked((int)rows * rowLength);
            shape[0] = rows;
        }
        value = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer.Data.AsMemory(start, length), shape);
        _views[key] = value;
        return value;
    }

    private static TensorDescriptor Describe(string name, NodeMetadata meta)
    {
        string type = meta.IsTensor && meta.ElementDataType == TensorElementType.Float ? "float32"
            : meta.IsTensor ? meta.ElementDataType.ToString().ToLowerInvariant() : meta.OnnxValueType.ToString();
        return new TensorDescriptor(name, type, meta.IsTensor ? [.. meta.Dimensions.Select(d => (long)d)] : []);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        ClearCaches();
        _runOptions.Dispose();
        _session.Dispose();
        _sessionOptions.Dispose();
    }

    /// <summary>Up to 16 dims across all inputs, compared by value (no allocation as a dictionary key).</summary>
    [StructLayout(LayoutKind.Auto)]
    private struct ShapeKey : IEquatable<ShapeKey>
    {
        private Dims16 _dims;
        private int _count;

        public bool Overflow { get; private set; }

        public void Append(ReadOnlySpan<long> shape)
        {
            foreach (var d in shape)
            {
                if (_count == 16) { Overflow = true; return; }
                _dims[_count++] = d;
            }
            if (_count < 16) _dims[_count++] = -7; // rank separator
        }

        public readonly bool Equals(ShapeKey other)
        {
            if (_count != other._count || Overflow != other.Overflow) return false;
            for (int i = 0; i < _count; i++)
            {
                if (_dims[i] != other._dims[i]) return false;
            }
            return true;
        }

        public override readonly bool Equals(object? obj) => obj is ShapeKey k && Equals(k);

        public override readonly int GetHashCode()
        {
            var h = new HashCode();
            for (int i = 0; i < _count; i++) h.Add(_dims[i]);
            return h.ToHashCode();
        }
    }

    /// <summary>Input shapes, the rows run, and the identity of every buffer's storage: what an IoBinding is bound to.</summary>
    private struct BindingKey : IEquatable<BindingKey>
    {
        public const int MaxBuffers = 8;
        private ShapeKey _shape;
        private Refs8 _refs;

        public readonly bool Overflow => _shape.Overflow;

        public void AddShape(ReadOnlySpan<long> shape) => _shape.Append(shape);

        public void AddRows(long first, long rows)
        {
            Span<long> range = [first, rows];
            _shape.Append(range);
        }

        public void Add(int index, float[] data) => _refs[index] = data;

        public readonly bool Equals(BindingKey other)
        {
            if (!_shape.Equals(other._shape)) return false;
            for (int i = 0; i < MaxBuffers; i++)
            {
                if (!ReferenceEquals(_refs[i], other._refs[i])) return false;
            }
            return true;
        }

        public override readonly bool Equals(object? obj) => obj is BindingKey k && Equals(k);

        public override readonly int GetHashCode()
        {
            var h = new HashCode();
            h.Add(_shape.GetHashCode());
            for (int i = 0; i < MaxBuffers; i++) h.Add(_refs[i] is null ? 0 : RuntimeHelpers.GetHashCode(_refs[i]));
            return h.ToHashCode();
        }
    }

    [System.Runtime.CompilerServices.InlineArray(8)]
    private struct Refs8
    {
        private object? _element;
    }

    [System.Runtime.CompilerServices.InlineArray(16)]
    private struct Dims16
    {
        private long _element;
    }

    private struct ViewKey(TensorBuffer buffer, float[] data, ShapeKey shape) : IEquatable<ViewKey>
    {
        public readonly TensorBuffer Buffer = buffer;
        public readonly float[] Data = data;
        public ShapeKey Shape = shape;

        public readonly bool Equals(ViewKey other) => ReferenceEquals(Buffer, other.Buffer) && ReferenceEquals(Data, other.Data) && Shape.Equals(other.Shape);

        public override readonly bool Equals(object? obj) => obj is ViewKey k && Equals(k);

        public override readonly int GetHashCode() => HashCode.Combine(RuntimeHelpers.GetHashCode(Buffer), Shape.GetHashCode());
    }
}
