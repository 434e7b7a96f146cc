using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using EdgeInspect.Sync.Mqtt;
using EdgeInspect.TestSupport;

namespace EdgeInspect.Station.Tests.Faults;

/// <summary>
/// The real <c>edgeinspect run</c> as a child process from a profile the test edits (<see cref="Profile"/>): started,
/// killed with SIGKILL, stopped with SIGTERM, and started again on the same store, as systemd would. The default
/// profile: the virtual line at 20 parts/s in <c>full</c> mode with the shipped model, no web page, no telemetry, and
/// the uplink to <paramref name="broker"/> in <c>ingest-ack</c> delivery with short retry times.
/// </summary>
internal sealed class LiveStation : IAsyncDisposable
{
    private readonly string _profilePath;
    private readonly StringBuilder _log = new();
    private Process? _process;
    private TaskCompletionSource? _ready;

    public LiveStation(string dir, string deviceId, MosquittoBroker broker, string? storePath = null)
    {
        DeviceId = deviceId;
        StorePath = storePath ?? Path.Combine(dir, deviceId + ".db");
        _profilePath = Path.Combine(dir, deviceId + ".profile.json");
        Profile = new JsonObject
        {
            ["Device"] = new JsonObject { ["Id"] = deviceId, ["Station"] = "st-faults" },
            ["Source"] = new JsonObject { ["Kind"] = "virtual-line", ["Seed"] = 7, ["IntervalMs"] = 50, ["DefectRate"] = 0.3, ["Width"] = 320, ["Height"] = 240 },
            ["Automation"] = new JsonObject { ["InitialMode"] = "full", ["AuditSampleRate"] = 0 },
            ["Store"] = new JsonObject { ["Path"] = StorePath },
            ["Model"] = new JsonObject { ["Package"] = Path.Combine(RepoPaths.Root, "models", "virtual-line") },
            ["Gpio"] = new JsonObject { ["Driver"] = "simulated", ["ModeKeySwitch"] = false },
            ["Web"] = new JsonObject { ["Enabled"] = false },
            ["Telemetry"] = new JsonObject { ["IntervalSeconds"] = 0 },
            ["Uplink"] = new JsonObject
            {
                ["Host"] = broker.Host, ["Port"] = broker.Port, ["Delivery"] = MqttUplinkOptions.IngestAck,
                ["MinBackoffSeconds"] = 0.2, ["MaxBackoffSeconds"] = 1, ["PingIntervalSeconds"] = 1, ["KeepAliveSeconds"] = 5,
                ["ResendAfterSeconds"] = 1, ["MaxResendBackoffSeconds"] = 4,
            },
        };
    }

    public string DeviceId { get; }

    public string StorePath { get; }

    /// <summary>The profile the next <see cref="StartAsync"/> writes and runs.</summary>
    public JsonObject Profile { get; }

    /// <summary>Starts so far.</summary>
    public int Starts { get; private set; }

    /// <summary>True while the child runs.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>The current (or last) child's exit code.</summary>
    public int ExitCode => _process?.ExitCode ?? throw new InvalidOperationException("never started");

    /// <summary>Everything every child wrote to stdout and stderr, in order.</summary>
    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    /// <summary>Starts the binary and waits for its banner (the host started: store open, model loaded, stages running).</summary>
    public async Task StartAsync(TimeSpan? timeout = null)
    {
        if (IsRunning) throw new InvalidOperationException("already running");
        _process?.Dispose();
        File.WriteAllText(_profilePath, Profile.ToJsonString());
        _ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var p = EdgeInspectProcess.Start("run", "--profile", _profilePath);
        Starts++;
        var ready = _ready;
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            Append(e.Data);
            if (e.Data.StartsWith("station ", StringComparison.Ordinal)) ready.TrySetResult();
        };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) Append(e.Data); };
        p.EnableRaisingEvents = true;
        p.Exited += (_, _) => ready.TrySetException(new InvalidOperationException($"edgeinspect run exited before its banner:\n{Tail()}"));
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        _process = p;
        await ready.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(60));
    }

    /// <summary>SIGKILL: no shutdown code runs, as on a power cut or the OOM killer.</summary>
    public async Task KillAsync()
    {
        if (_process is not { HasExited: false } p) return;
        p.Kill(entireProcessTree: true);
        await p.WaitForExitAsync();
    }

    /// <summary>SIGTERM (systemd's stop) and the exit code.</summary>
    public async Task<int> StopAsync()
    {
        if (_process is not { } p) throw new InvalidOperationException("never started");
        if (!p.HasExited)
        {
            await EdgeInspectProcess.TerminateAsync(p);
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try { await p.WaitForExitAsync(cts.Token); }
            catch (OperationCanceledException)
            {
                p.Kill(true);
                throw new TimeoutException($"edgeinspect did not stop within 60 s of SIGTERM:\n{Tail()}");
            }
        }
        return p.ExitCode;
    }

    /// <summary>A consistent copy of the store (<see cref="Storage.LiteDb.LiteDbInspectionStore.OpenSnapshot"/>), readable while the station runs.</summary>
    public Storage.LiteDb.SnapshotStore Snapshot() => Storage.LiteDb.LiteDbInspectionStore.OpenSnapshot(StorePath);

    /// <summary>The last lines the children wrote, for a failure message.</summary>
    public string Tail(int lines = 40)
    {
        var all = Log.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    public async ValueTask DisposeAsync()
    {
        await KillAsync();
        _process?.Dispose();
    }

    private void Append(string line)
    {
        lock (_log) _log.AppendLine(line);
    }
}
