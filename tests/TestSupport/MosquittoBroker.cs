using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace EdgeInspect.TestSupport;

/// <summary>
/// A real Mosquitto broker on a free loopback port, started by the test (Debian's mosquitto, installed by .ci/run).
/// Stop and Start keep the port, so a test can take the broker away and bring it back (outage tests).
/// Persistence is off: a restart is a broker that lost its sessions, the harder case for the client.
/// </summary>
public sealed class MosquittoBroker : IAsyncDisposable
{
    public const string BinaryPath = "/usr/sbin/mosquitto";
    private readonly string _dir;
    private readonly string _configPath;
    private Process? _process;

    private MosquittoBroker(int port, string dir, string extraConfig = "")
    {
        Port = port;
        _dir = dir;
        _configPath = Path.Combine(dir, "mosquitto.conf");
        File.WriteAllText(_configPath,
            $"""
            listener {port} 127.0.0.1
            allow_anonymous true
            persistence false
            max_inflight_messages 100
            max_queued_messages 100000
            set_tcp_nodelay true
            log_dest file {Path.Combine(dir, "mosquitto.log")}
            log_type error
            log_type warning
            log_type notice
            {extraConfig}
            """);
    }

    public static bool IsInstalled => File.Exists(BinaryPath);

    public int Port { get; }

    public string Host => "127.0.0.1";

    public bool IsRunning => _process is { HasExited: false };

    public string LogPath => Path.Combine(_dir, "mosquitto.log");

    public static Task<MosquittoBroker> LaunchAsync(CancellationToken cancellationToken = default) => LaunchAsync("", cancellationToken);

    /// <summary>A broker with <paramref name="extraConfig"/> appended to its config (e.g. <c>message_size_limit 2048</c>).</summary>
    public static async Task<MosquittoBroker> LaunchAsync(string extraConfig, CancellationToken cancellationToken = default)
    {
        var dir = Directory.CreateTempSubdirectory("edgeinspect-mosquitto-").FullName;
        var broker = new MosquittoBroker(FreeTcpPort(), dir, extraConfig);
        await broker.StartAsync(cancellationToken);
        return broker;
    }

    /// <summary>(Re)starts the broker on the same port and waits until it accepts connections.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (IsRunning) return;
        var psi = new ProcessStartInfo(BinaryPath, ["-c", _configPath])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _process = Process.Start(psi) ?? throw new InvalidOperationException("mosquitto did not start");
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (_process.HasExited)
            {
                throw new InvalidOperationException(
                    $"mosquitto exited with {_process.ExitCode}: {await _process.StandardError.ReadToEndAsync(cancellationToken)}");
            }
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, Port, cancellationToken);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50, cancellationToken);
            }
        }
        throw new TimeoutException($"mosquitto did not listen on 127.0.0.1:{Port} within 10 s");
    }

    /// <summary>Stops the broker abruptly (SIGKILL): clients see the link drop, as on a real outage.</summary>
    public async Task StopAsync()
    {
        if (_process is null) return;
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    public static int FreeTcpPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>A fact that needs Debian's mosquitto; skipped with the reason where it is not installed.</summary>
public sealed class MosquittoFactAttribute : FactAttribute
{
    public MosquittoFactAttribute()
    {
        if (!MosquittoBroker.IsInstalled)
        {
            Skip = $"needs {MosquittoBroker.BinaryPath} (apt-get install mosquitto; .ci/run installs it)";
        }
    }
}
