using System.Diagnostics;
using Xunit;

namespace EdgeInspect.TestSupport;

/// <summary>
/// A throwaway PostgreSQL cluster (Debian's postgresql, installed by .ci/run): initdb into a temp folder, started on a
/// free loopback port with its socket in that folder, trust authentication, deleted on dispose. PostgreSQL refuses to
/// run as root, so when the tests run as root (CI) the cluster belongs to the "postgres" user and its commands run
/// through <c>runuser</c>. fsync is off: the tests kill the ingest, never the database.
/// </summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    private readonly string _dir;
    private readonly string _bin;

    private PostgresCluster(string dir, string bin, int port)
    {
        _dir = dir;
        _bin = bin;
        Port = port;
    }

    /// <summary>The newest /usr/lib/postgresql/&lt;version&gt;/bin holding initdb, or null.</summary>
    public static string? BinDirectory { get; } = FindBin();

    public static bool IsInstalled => BinDirectory is not null;

    public int Port { get; }

    /// <summary>Npgsql connection string for database <paramref name="database"/> (default "postgres").</summary>
    public string ConnectionString(string database = "postgres") =>
        $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Pooling=true;Include Error Detail=true";

    public static async Task<PostgresCluster> LaunchAsync(CancellationToken cancellationToken = default)
    {
        var bin = BinDirectory ?? throw new InvalidOperationException("PostgreSQL is not installed (apt-get install postgresql)");
        var dir = Directory.CreateTempSubdirectory("edgeinspect-pg-").FullName;
        if (IsRoot) await RunAsync("chown", ["postgres:postgres", dir], asPostgres: false, cancellationToken);
        var cluster = new PostgresCluster(dir, bin, MosquittoBroker.FreeTcpPort());
        await RunAsync(Path.Combine(bin, "initdb"), ["-D", Path.Combine(dir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
            IsRoot, cancellationToken);
        await cluster.StartAsync(cancellationToken);
        return cluster;
    }

    /// <summary>Starts the server and waits until it accepts connections (pg_ctl -w).</summary>
    public Task StartAsync(CancellationToken cancellationToken = default) =>
        RunAsync(Path.Combine(_bin, "pg_ctl"),
            ["start", "-D", Path.Combine(_dir, "data"), "-l", Path.Combine(_dir, "server.log"), "-w", "-t", "60", "-o",
                $"-p {Port} -c listen_addresses=127.0.0.1 -k {_dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"],
            IsRoot, cancellationToken);

    /// <summary>Stops the server at once (immediate mode).</summary>
    public Task StopAsync() =>
        RunAsync(Path.Combine(_bin, "pg_ctl"), ["-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "stop"], IsRoot, CancellationToken.None);

    /// <summary>Creates a database (one per test keeps tests apart); returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string name, CancellationToken cancellationToken = default)
    {
        await RunAsync(Path.Combine(_bin, "createdb"), ["-h", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", "postgres", name],
            IsRoot, cancellationToken);
        return ConnectionString(name);
    }

    public async ValueTask DisposeAsync()
    {
        try { await StopAsync(); } catch (InvalidOperationException) { }
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static bool IsRoot => Environment.UserName == "root";

    private static string? FindBin()
    {
        const string root = "/usr/lib/postgresql";
        if (!Directory.Exists(root)) return null;
        return Directory.GetDirectories(root)
            .Select(d => (Dir: Path.Combine(d, "bin"), Version: int.TryParse(Path.GetFileName(d), out var v) ? v : 0))
            .Where(x => File.Exists(Path.Combine(x.Dir, "initdb")))
            .OrderByDescending(x => x.Version)
            .Select(x => x.Dir)
            .FirstOrDefault();
    }

    private static async Task RunAsync(string file, string[] args, bool asPostgres, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(asPostgres ? "runuser" : file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (asPostgres)
        {
            foreach (var a in new[] { "-u", "postgres", "--", file }) psi.ArgumentList.Add(a);
        }
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"{file} did not start");
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        if (p.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(file)} exited with {p.ExitCode}: {await stderr}{await stdout}");
        }
    }
}

/// <summary>A fact that needs Debian's postgresql (and mosquitto); skipped with the reason where either is absent.</summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute()
    {
        if (!PostgresCluster.IsInstalled) Skip = "needs PostgreSQL's server binaries in /usr/lib/postgresql/<version>/bin (apt-get install postgresql; .ci/run installs it)";
        else if (!MosquittoBroker.IsInstalled) Skip = $"needs {MosquittoBroker.BinaryPath} (apt-get install mosquitto; .ci/run installs it)";
    }

    /// <summary>Also needs the training toolchain (<see cref="TrainingPython"/>): skipped with its reason where it is absent.</summary>
    public bool NeedsTrainingPython
    {
        get => _needsTrainingPython;
        set
        {
            _needsTrainingPython = value;
            if (value && Skip is null && TrainingPython.MissingReason is { } reason) Skip = reason;
        }
    }

    private bool _needsTrainingPython;
}
