using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit;

namespace EdgeInspect.TestSupport;

/// <summary>
/// A real Mosquitto broker on a free loopback port, started by the test (Debian's mosquitto, installed by .ci/run).
/// Stop and Start keep the port, so a test can take the broker away and bring it back (outage tests).
/// Persistence is off: a restart is a broker that lost its sessions, the harder case for the client.
/// <see cref="LaunchAsync"/> runs an open broker; <see cref="LaunchWithConfigFileAsync"/> runs a real config file.
/// </summary>
public sealed class MosquittoBroker : IAsyncDisposable
{
    public const string BinaryPath = "/usr/sbin/mosquitto";
    private readonly string _dir;
    private readonly string _configPath;
    private Process? _process;

    private MosquittoBroker(int port, string dir, string config)
    {
        Port = port;
        _dir = dir;
        _configPath = Path.Combine(dir, "mosquitto.conf");
        File.WriteAllText(_configPath, config);
    }

    private static string LogLines(string dir) =>
        $"""
        log_dest file {Path.Combine(dir, "mosquitto.log")}
        log_type error
        log_type warning
        log_type notice
        """;

    public static bool IsInstalled => File.Exists(BinaryPath);

    public int Port { get; }

    public string Host => "127.0.0.1";

    public bool IsRunning => _process is { HasExited: false };

    public string LogPath => Path.Combine(_dir, "mosquitto.log");

    /// <summary>The config file the broker runs from: edit it between <see cref="StopAsync"/> and <see cref="StartAsync"/>.</summary>
    public string ConfigPath => _configPath;

    /// <summary>An open broker (anonymous, plain TCP) for tests about the device and the fleet, not about the broker's security.</summary>
    public static Task<MosquittoBroker> LaunchAsync(CancellationToken cancellationToken = default) => LaunchAsync("", cancellationToken);

    /// <summary>An open broker with <paramref name="extraConfig"/> appended to its config (e.g. <c>message_size_limit 2048</c>).</summary>
    public static async Task<MosquittoBroker> LaunchAsync(string extraConfig, CancellationToken cancellationToken = default)
    {
        var dir = Directory.CreateTempSubdirectory("edgeinspect-mosquitto-").FullName;
        var port = FreeTcpPort();
        var broker = new MosquittoBroker(port, dir,
            $"""
            listener {port} 127.0.0.1
            allow_anonymous true
            persistence false
            max_inflight_messages 100
            max_queued_messages 100000
            set_tcp_nodelay true
            user {Environment.UserName}
            {LogLines(dir)}
            {extraConfig}
            """);
        await broker.StartAsync(cancellationToken);
        return broker;
    }

    /// <summary>
    /// A broker run from a copy of a real config file (device-config/broker): <paramref name="rewrite"/> gets the file's
    /// text and a free loopback port and returns the text to run, with the file paths substituted and the listener moved
    /// to that port on 127.0.0.1. Persistence goes off and the log goes to the broker's folder (<see cref="LogPath"/>).
    /// </summary>
    public static async Task<MosquittoBroker> LaunchWithConfigFileAsync(string configFile, Func<string, int, string> rewrite,
        CancellationToken cancellationToken = default)
    {
        var dir = Directory.CreateTempSubdirectory("edgeinspect-mosquitto-").FullName;
        var port = FreeTcpPort();
        var config = rewrite(File.ReadAllText(configFile), port);
        // Started as root, Mosquitto drops to the "mosquitto" user, which cannot read the test's key files in its
        // private temp folders: run as whoever runs the test (the option does nothing for a non-root user).
        var broker = new MosquittoBroker(port, dir, $"""
            {config}
            persistence false
            user {Environment.UserName}
            {LogLines(dir)}
            """);
        await broker.StartAsync(cancellationToken);
        return broker;
    }

    /// <summary>What the broker wrote to its log so far (the reason it refused a client, for example).</summary>
    public string ReadLog()
    {
        if (!File.Exists(LogPath)) return "";
        using var s = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(s).ReadToEnd();
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
