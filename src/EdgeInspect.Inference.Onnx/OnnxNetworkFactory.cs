using EdgeInspect.Core.Inference;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.ML.OnnxRuntime;

namespace EdgeInspect.Inference.Onnx;

/// <summary>
/// Opens ONNX networks on ONNX Runtime. Execution providers are appended in the configured order; one that this
/// ONNX Runtime build does not have (the CPU NuGet package has neither TensorRT nor CUDA; a Jetson's JetPack build
/// has both) is skipped with one warning naming it and the provider used instead.
/// </summary>
public sealed class OnnxNetworkFactory : INetworkFactory
{
    /// <summary>OrtArenaCfg arena_extend_strategy kSameAsRequested (the default, kNextPowerOfTwo, doubles each extension).</summary>
    private const int ArenaExtendSameAsRequested = 1;

    /// <summary>
    /// One CPU arena for every session in the process, registered on ONNX Runtime's environment once: each session's
    /// own arena keeps the peak of its own runs for good, so the station's dozen sessions (four networks per model,
    /// active, candidate and previous) would each hold a peak, where one shared arena holds the largest. It grows by
    /// what is asked, not by doubling. False where ONNX Runtime refuses it (sessions then keep their own arenas).
    /// </summary>
    private static readonly Lazy<bool> SharedCpuArena = new(RegisterSharedCpuArena);

    private readonly ILogger _logger;

    public OnnxNetworkFactory(ILogger<OnnxNetworkFactory>? logger = null)
    {
        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>ONNX Runtime's name for each provider this project knows.</summary>
    public static string OrtName(string provider) => provider.ToLowerInvariant() switch
    {
        "tensorrt" => "TensorrtExecutionProvider",
        "cuda" => "CUDAExecutionProvider",
        "cpu" => "CPUExecutionProvider",
        _ => throw new ArgumentException($"unknown execution provider '{provider}'"),
    };

    /// <summary>The providers compiled into the loaded ONNX Runtime library.</summary>
    public static IReadOnlyList<string> AvailableProviders() => OrtEnv.Instance().GetAvailableProviders();

    public INetworkRunner Open(string modelPath, InferenceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var path = Path.GetFullPath(modelPath);
        if (!File.Exists(path)) throw new NetworkLoadException(path, "network file not found");

        var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = options.InterOpThreads > 1 ? ExecutionMode.ORT_PARALLEL : ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = options.IntraOpThreads > 0 ? options.IntraOpThreads : Environment.ProcessorCount,
            InterOpNumThreads = Math.Max(1, options.InterOpThreads),
            LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
        };
        // Spinning intra-op workers keep burning a core after each run; on a 2-core device that core is the one the
        // cascade's own work (resizes, crops, NMS) needs between runs. Off unless asked for.
        if (!options.AllowSpinning)
        {
            sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", "0");
            sessionOptions.AddSessionConfigEntry("session.inter_op.allow_spinning", "0");
        }
        // The memory pattern plans one block for all of a run's intermediate tensors per input shape; P-Net sees a
        // new shape per pyramid level and the batched stages one per candidate count, so the plans mostly hold
        // memory that the next shape cannot use.
        sessionOptions.EnableMemoryPattern = false;
        if (SharedCpuArena.Value) sessionOptions.AddSessionConfigEntry("session.use_env_allocators", "1");
        string provider;
        try
        {
            provider = AppendProviders(sessionOptions, options, path);
        }
        catch
        {
            sessionOptions.Dispose();
            throw;
        }

        InferenceSession session;
        try
        {
            session = new InferenceSession(path, sessionOptions);
        }
        catch (OnnxRuntimeException ex)
        {
            sessionOptions.Dispose();
            throw new NetworkLoadException(path, $"not a loadable ONNX model ({FirstLine(ex.Message)})", ex);
        }

        var runner = new OnnxNetworkRunner(path, session, sessionOptions, provider);
        if (options.WarmUp)
        {
            try
            {
                runner.WarmUp(options.WarmUpSpatialSize);
            }
            catch (Exception ex) when (ex is OnnxRuntimeException or InvalidOperationException)
            {
                runner.Dispose();
                throw new NetworkLoadException(path, $"warm-up run failed ({FirstLine(ex.Message)})", ex);
            }
        }
        return runner;
    }

    private static bool RegisterSharedCpuArena()
    {
        try
        {
            using var info = new OrtMemoryInfo(OrtMemoryInfo.allocatorCPU, OrtAllocatorType.ArenaAllocator, 0, OrtMemType.Default);
            using var arena = new OrtArenaCfg(0, ArenaExtendSameAsRequested, -1, -1);
            OrtEnv.Instance().CreateAndRegisterAllocator(info, arena);
            return true;
        }
        catch (OnnxRuntimeException)
        {
            return false;
        }
    }

    /// <summary>Appends the requested providers in order; returns the one that takes the graph first.</summary>
    private string AppendProviders(SessionOptions so, InferenceOptions options, string path)
    {
        var available = AvailableProviders();
        string? primary = null;
        var missing = new List<string>();
        foreach (var requested in options.Providers)
        {
            var name = requested.ToLowerInvariant();
            if (!available.Contains(OrtName(name)))
            {
                missing.Add(name);
                continue;
            }
            try
            {
                switch (name)
                {
                    case "tensorrt": so.AppendExecutionProvider_Tensorrt(options.DeviceId); break;
                    case "cuda": so.AppendExecutionProvider_CUDA(options.DeviceId); break;
                    default: break; // CPU is ONNX Runtime's implicit last provider: nothing to append.
                }
            }
            catch (Exception ex) when (ex is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
            {
                // Listed but unusable (e.g. the CUDA libraries are absent): treat as missing.
                _logger.LogDebug(ex, "{Provider} could not be appended", name);
                missing.Add(name);
                continue;
            }
            primary ??= name;
        }
        if (primary is null)
        {
            throw new NetworkLoadException(path,
                $"none of the execution providers in Inference:Providers ({string.Join(", ", options.Providers)}) is available; this ONNX Runtime has {string.Join(", ", available)}");
        }
        foreach (var m in missing)
        {
            _logger.LogWarning("Execution provider '{Provider}' is not available in this ONNX Runtime build; {Model} falls back to '{Fallback}'",
                m, Path.GetFileName(path), primary);
        }
        return primary;
    }

    private static string FirstLine(string s)
    {
        int i = s.IndexOf('\n');
        return (i < 0 ? s : s[..i]).Trim();
    }
}
