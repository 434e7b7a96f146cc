using System.Globalization;
using EdgeInspect.Cloud.Bench;
using EdgeInspect.Cloud.Ingest;
using EdgeInspect.Cloud.Ingest.Schema;
using EdgeInspect.Core.Configuration;
using EdgeInspect.Fleet.Protocol.Tls;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;

namespace EdgeInspect.Cloud;

/// <summary>
/// edgeinspect-cloud verbs. Settings come from <c>--config FILE</c> (JSON), then <c>EDGEINSPECT_</c> environment
/// variables (<c>EDGEINSPECT_Ingest__ConnectionString</c>), then <c>--Ingest:Key value</c> arguments.
/// Bad settings print one line naming the key and exit 2.
/// </summary>
public static class CloudCli
{
    public const int BadInput = 2;

    private const string Usage = """
        usage:
          edgeinspect-cloud ingest  [--config FILE] [--Ingest:Key value ...]   run the ingest (until SIGTERM)
          edgeinspect-cloud migrate [--config FILE] [--Ingest:Key value ...]   apply schema migrations and create partitions, then exit
          edgeinspect-cloud report  [--json] [--days 7] [--config FILE] [--Ingest:ConnectionString ...]  the fleet from the database
          edgeinspect-cloud dataset export --since WHEN --kind disagreement|all --out DIR [--config FILE] [--Ingest:ConnectionString ...] [--Ingest:Images:Root ...]
                                    kept part images and their records as a Pascal VOC set for tools/train (WHEN: 2026-12-01, 2026-12-01T08:00Z, 7d, 12h)
          edgeinspect-cloud bench ingest [--devices N] [--rate PARTS_PER_S] [--seconds S] [--warmup S] [--backlog K] [--stations-process] [--cpu-of NAME=PID ...] [--config FILE] [--Ingest:Key value ...]
                                    --cpu-of: also split the drain's CPU time per 1000 records to that process and its descendants (Linux; e.g. mosquitto=PID postgres=POSTMASTER_PID)
          edgeinspect-cloud bench write [--records 100000] [--devices 100] [--config FILE] [--Ingest:Key value ...]   the write path alone (parse + PostgreSQL)
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? BadInput : 0;
        }
        try
        {
            return args[0] switch
            {
                "ingest" => await IngestAsync(args[1..]),
                "migrate" => await MigrateAsync(args[1..]),
                "report" => await ReportAsync(args[1..]),
                "dataset" when args.Length > 1 && args[1] == "export" => await Datasets.DatasetExportCommand.RunAsync(Configuration(args[2..], out var exportArgs), exportArgs),
                "bench" when args.Length > 1 && args[1] == "ingest" => await IngestBench.RunAsync(Configuration(args[2..], out var rest), rest, SettingsArgs(args[2..])),
                "bench" when args.Length > 1 && args[1] == "write" => await WriteBench.RunAsync(Configuration(args[2..], out var rest), rest),
                "bench" when args.Length > 1 && args[1] == "stations" => await IngestBench.RunStationsAsync(Configuration(args[2..], out var rest), rest),
                _ => Fail($"unknown verb '{string.Join(' ', args.Take(2))}'\n{Usage}"),
            };
        }
        catch (OptionsValidationException e)
        {
            return Fail(ValidatedOptions.FirstFailure(e));
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or FileNotFoundException or FormatException)
        {
            return Fail(e.Message);
        }
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine("error: " + message);
        return BadInput;
    }

    private static async Task<int> IngestAsync(string[] args)
    {
        var configuration = Configuration(args, out var rest);
        if (rest.Count > 0) return Fail($"unknown argument '{rest[0]}'");
        // Checked before the host starts, so a bad setting is one line naming the key and not the host's failure log.
        var options = configuration.GetSection(IngestOptions.SectionName).Get<IngestOptions>() ?? new IngestOptions();
        options.Validate();
        if (options.UseTls) CheckTls(options);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Configuration = (ConfigurationManager)configuration });
        builder.Services.AddSystemd();
        builder.Services.AddEdgeInspectIngest(builder.Configuration);
        using var host = builder.Build();
        await host.RunAsync();
        return 0;
    }

    /// <summary>Loads the TLS files once, so a bad certificate or key is one line naming its key before the host starts.</summary>
    private static void CheckTls(IngestOptions options)
    {
        try
        {
            BrokerTls.Load(options.CaFile, options.ClientCertFile, options.ClientKeyFile).Dispose();
        }
        catch (BrokerTlsException e)
        {
            var key = e.File switch
            {
                BrokerTlsFile.ClientCertificate => nameof(IngestOptions.ClientCertFile),
                BrokerTlsFile.ClientKey => nameof(IngestOptions.ClientKeyFile),
                _ => nameof(IngestOptions.CaFile),
            };
            throw new InvalidOperationException($"{IngestOptions.SectionName}:{key}: {e.Message}", e);
        }
    }

    private static async Task<int> MigrateAsync(string[] args)
    {
        var configuration = Configuration(args, out var rest);
        if (rest.Count > 0) return Fail($"unknown argument '{rest[0]}'");
        var options = configuration.GetSection(IngestOptions.SectionName).Get<IngestOptions>() ?? new IngestOptions();
        options.Validate();
        await using var db = NpgsqlDataSource.Create(options.ConnectionString);
        var applied = await SchemaMigrator.MigrateAsync(db);
        var (created, dropped) = await new PartitionMaintainer(db, options).MaintainAsync();
        Console.WriteLine($"schema: applied {(applied.Count == 0 ? "nothing (up to date)" : string.Join(", ", applied))}; " +
            $"partitions created {created.Count}, dropped {dropped.Count}");
        return 0;
    }

    private static async Task<int> ReportAsync(string[] args)
    {
        var configuration = Configuration(args, out var rest);
        var json = rest.Remove("--json");
        var days = 7;
        if (rest.IndexOf("--days") is >= 0 and var at)
        {
            if (at + 1 >= rest.Count || !int.TryParse(rest[at + 1], CultureInfo.InvariantCulture, out days) || days is < 1 or > 366)
            {
                return Fail("--days: a number of days, 1..366");
            }
            rest.RemoveRange(at, 2);
        }
        if (rest.Count > 0) return Fail($"unknown argument '{rest[0]}'");
        var cs = configuration[$"{IngestOptions.SectionName}:{nameof(IngestOptions.ConnectionString)}"];
        if (string.IsNullOrWhiteSpace(cs)) return Fail("Ingest:ConnectionString: required (an Npgsql connection string)");
        await using var db = NpgsqlDataSource.Create(cs);
        return await Reports.FleetReport.RunAsync(db, json, Console.Out, days);
    }

    /// <summary>The arguments <see cref="Configuration"/> reads as settings (<c>--config FILE</c>, <c>--Section:Key value</c>), in order.</summary>
    private static List<string> SettingsArgs(string[] args)
    {
        var settings = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            var isSetting = a == "--config" || (a.StartsWith("--", StringComparison.Ordinal) && a.Contains(':', StringComparison.Ordinal));
            if (!isSetting) continue;
            settings.Add(a);
            if (!a.Contains('=', StringComparison.Ordinal) && i + 1 < args.Length) settings.Add(args[++i]);
        }
        return settings;
    }

    /// <summary>
    /// Settings from <c>--config FILE</c>, the environment (<c>EDGEINSPECT_</c>) and <c>--Section:Key value</c> pairs;
    /// <paramref name="rest"/> gets the arguments that are neither (a verb's own options).
    /// </summary>
    public static IConfiguration Configuration(string[] args, out List<string> rest)
    {
        var manager = new ConfigurationManager();
        var pairs = new Dictionary<string, string?>();
        rest = [];
        string? file = null;
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (a == "--config" && i + 1 < args.Length) file = args[++i];
            else if (a.StartsWith("--", StringComparison.Ordinal) && a.Contains(':', StringComparison.Ordinal))
            {
                var eq = a.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0) pairs[a[2..eq]] = a[(eq + 1)..];
                else if (i + 1 < args.Length) pairs[a[2..]] = args[++i];
                else throw new ArgumentException($"{a}: needs a value");
            }
            else rest.Add(a);
        }
        if (file is not null)
        {
            if (!File.Exists(file)) throw new FileNotFoundException($"{file}: config file not found");
            manager.AddJsonFile(Path.GetFullPath(file), optional: false);
        }
        manager.AddEnvironmentVariables("EDGEINSPECT_");
        manager.AddInMemoryCollection(pairs);
        return manager;
    }
}
